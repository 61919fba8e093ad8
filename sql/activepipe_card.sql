--
-- activepipe card API (issue 3): what the Integrations tab renders.
-- Self-contained: creates the extension and the reference Ulysses tables
-- (test/fixtures/regress_setup.sql) and drops them at the end; any
-- left over from an earlier file are dropped first, quietly.
--
\i test/fixtures/regress_setup.sql

INSERT INTO users (id, email) VALUES (1, 'agent1@example.com'), (2, 'agent2@example.com');
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone, mobile,
	street_address, city, state, postcode, country) VALUES
	(101, 1, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL,
	 '1 George St', 'Sydney', 'NSW', '2000', 'Australia'),
	(201, 2, 'Ann', 'Lee', 'ann@example.com', NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- the contract, in order
SELECT * FROM activepipe_contract();

-- a contact without a profile: nothing is written
SELECT jsonb_pretty(activepipe_card(1, 101));
SELECT count(*) AS profiles FROM contact_integrations;

-- save every field kind
SELECT jsonb_pretty(activepipe_card_save(1, 101, $${
	"status": "  active  ",
	"buyertype": "Investor",
	"locations": "Bondi, Coogee",
	"minbeds": " 3 ",
	"maxbeds": 4,
	"minbaths": "2.5",
	"minprice": "$1,250,000",
	"maxprice": "1 250 000",
	"minlandsize": "2.50",
	"tags": "Beach; pool ;beach;;Pool"
}$$) -> 'fields');
SELECT user_id, contact_id, integration_key, external_id, payload_json,
	last_exported_at, last_imported_at
	FROM contact_integrations;

-- keys present are set, null and "" clear, absent keys stay
SELECT activepipe_card_save(1, 101, '{"status": null, "locations": "", "tags": ["Sea view", "SEA VIEW", " garden "]}') -> 'fields' -> 'tags' AS tags;
SELECT payload_json FROM contact_integrations WHERE contact_id = 101;

-- min > max is saved, with a warning
SELECT activepipe_card_save(1, 101, '{"minbeds": 5, "maxbeds": 2}') -> 'warnings' AS warnings;

-- errors: nothing is written
SELECT activepipe_card_save(1, 101, '{"bogus": "x"}');
SELECT activepipe_card_save(1, 101, '{"email": "x@example.com"}');
SELECT activepipe_card_save(1, 101, '{"status": {"nested": true}}');
SELECT payload_json FROM contact_integrations WHERE contact_id = 101;

-- a range value that is not a number is kept as text, with a warning;
-- the usual ways of writing a price are numbers
SELECT activepipe_card_save(1, 101, '{"minprice": "POA", "maxprice": "$1.2m", "maxlandsize": "850k"}') -> 'warnings' AS warnings;
SELECT payload_json -> 'minprice' AS minprice, payload_json -> 'maxprice' AS maxprice,
	payload_json -> 'maxlandsize' AS maxlandsize
	FROM contact_integrations WHERE contact_id = 101;

-- another tenant's contact reads like a missing one
SELECT activepipe_card(2, 101);
SELECT activepipe_card(2, 999);
SELECT activepipe_card_save(2, 101, '{"status": "x"}');
SELECT activepipe_card_clear(2, 101);

-- clear empties the payload only
UPDATE contact_integrations SET last_exported_at = '2024-01-02 03:04:05+00';
INSERT INTO contact_integrations (user_id, contact_id, integration_key, payload_json)
	VALUES (1, 101, 'otherapp', '{"status": "kept"}');
SELECT activepipe_card_clear(1, 101);
SELECT integration_key, payload_json, last_exported_at IS NOT NULL AS exported
	FROM contact_integrations ORDER BY integration_key;
SELECT first_name, last_name, email FROM contacts WHERE id = 101;
-- the card after clear: integration fields null, the row's timestamps shown
-- (pg_regress runs with TimeZone PST8PDT)
SELECT card -> 'has_profile' AS has_profile, card -> 'last_exported_at' AS last_exported_at,
	card -> 'last_imported_at' AS last_imported_at,
	(SELECT count(*) FROM jsonb_each(card -> 'fields') WHERE value <> 'null') AS non_null_fields
	FROM activepipe_card(1, 101) AS card;

DROP EXTENSION activepipe;
DROP TABLE contacts, users;
