-- Match keys through SQL (issue 3): activepipe_phone_key and
-- activepipe_email_key, the default region and its setting.
BEGIN;
SELECT plan(42);

-- one AU mobile, every spelling of the contract, one key
SELECT is(public.activepipe_phone_key('0412 345 678'), '+61412345678', 'AU mobile, national form');
SELECT is(public.activepipe_phone_key('+61 412 345 678'), '+61412345678', 'AU mobile, +61');
SELECT is(public.activepipe_phone_key('61412345678'), '+61412345678', 'AU mobile, 61 without +');
SELECT is(public.activepipe_phone_key('0011 61 412 345 678'), '+61412345678', 'AU mobile, 0011 international prefix');
SELECT is(public.activepipe_phone_key('00 61 412 345 678'), '+61412345678', 'AU mobile, 00 international prefix');
SELECT is(public.activepipe_phone_key('412345678'), '+61412345678', 'AU mobile, Excel-stripped leading 0');
SELECT is(public.activepipe_phone_key('+61 (0)412 345 678'), '+61412345678', 'AU mobile, +61 (0) habit');
SELECT is(public.activepipe_phone_key('0412-345-678'), '+61412345678', 'AU mobile, dashes');
SELECT is(public.activepipe_phone_key('  0412.345.678  '), '+61412345678', 'AU mobile, dots and blanks');
SELECT is(public.activepipe_phone_key('0412 345 678', 'AU'), '+61412345678', 'AU mobile, region given');
SELECT is(public.activepipe_phone_key('0412 345 678', NULL), NULL, 'NULL region: no key (the region form is STRICT; the one-argument form reads the default region)');
SELECT is(public.activepipe_phone_key('0412 345 678'), '+61412345678', 'one argument: the default region');
-- AU landlines
SELECT is(public.activepipe_phone_key('(02) 9876 5432'), '+61298765432', 'AU landline, (02)');
SELECT is(public.activepipe_phone_key('+61 2 9876 5432'), '+61298765432', 'AU landline, +61 2');
SELECT is(public.activepipe_phone_key('03 9123 4567'), '+61391234567', 'AU landline, 03');
SELECT is(public.activepipe_phone_key('9876 5432'), NULL, 'AU local number without its area code: no key');
-- NZ
SELECT is(public.activepipe_phone_key('021 123 4567', 'NZ'), '+64211234567', 'NZ mobile, national form, region NZ');
SELECT is(public.activepipe_phone_key('+64 21 123 4567'), '+64211234567', 'NZ mobile, +64, default region AU');
SELECT is(public.activepipe_phone_key('+64 21 123 4567', 'NZ'), '+64211234567', 'NZ mobile, +64, region NZ');
SELECT is(public.activepipe_phone_key('09 123 4567', 'NZ'), '+6491234567', 'NZ landline (8-digit national number)');
SELECT is(public.activepipe_phone_key('0412 345 678', 'nz'), '+64412345678', 'region codes are case-insensitive');
-- foreign numbers with +
SELECT is(public.activepipe_phone_key('+44 20 7946 0958'), '+442079460958', 'GB number with +44');
SELECT is(public.activepipe_phone_key('+44 (0)20 7946 0958'), '+442079460958', 'GB number with +44 (0)');
SELECT is(public.activepipe_phone_key('+1 (415) 555-0100'), '+14155550100', 'US number with +1');
SELECT is(public.activepipe_phone_key('+49 30 1234567'), '+49301234567', 'a calling code not in the region table is kept as written');
SELECT is(public.activepipe_phone_key('0011 44 20 7946 0958'), '+442079460958', 'GB number dialled from AU with 0011');
-- garbage and empty
SELECT is(public.activepipe_phone_key('call me'), NULL, 'letters: no key');
SELECT is(public.activepipe_phone_key('0412 345 67a'), NULL, 'a letter among digits: no key');
SELECT is(public.activepipe_phone_key('12345'), NULL, 'too few digits: no key');
SELECT is(public.activepipe_phone_key('+61 412 345 678 123 456 789'), NULL, 'too many digits: no key');
SELECT is(public.activepipe_phone_key('++61 412 345 678'), NULL, 'two plus signs: no key');
SELECT is(public.activepipe_phone_key(''), NULL, 'empty: NULL');
SELECT is(public.activepipe_phone_key('   '), NULL, 'blank: NULL');
SELECT is(public.activepipe_phone_key(NULL), NULL, 'NULL: NULL');
SELECT throws_ok($$SELECT public.activepipe_phone_key('0412 345 678', 'XX')$$, '22023', NULL,
	'an unknown region is an error');
-- the default region setting
SET LOCAL activepipe.default_region = 'NZ';
SELECT is(public.activepipe_phone_key('021 123 4567'), '+64211234567', 'activepipe.default_region = NZ applies the NZ trunk prefix');
SET LOCAL activepipe.default_region = 'AU';
SELECT is(public.activepipe_phone_key('021 123 4567'), '+61211234567', 'back to AU: the same digits read as AU');
SELECT throws_ok($$SET LOCAL activepipe.default_region = 'ZZ'$$, '22023', NULL,
	'an unknown default region is refused');
-- email keys
SELECT is(public.activepipe_email_key('  Ann.Lee@Example.COM '), 'ann.lee@example.com', 'email key: trimmed, lower-cased');
SELECT is(public.activepipe_email_key('ann.lee@example.com'), public.activepipe_email_key('ANN.LEE@EXAMPLE.COM'),
	'email keys compare case-insensitively');
SELECT is(public.activepipe_email_key(''), NULL, 'empty email: NULL');
SELECT is(public.activepipe_email_key('   '), NULL, 'blank email: NULL');

SELECT * FROM finish();
ROLLBACK;
