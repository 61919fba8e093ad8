#!/usr/bin/env python3
"""bench/gen_csv.py: deterministic ActivePipe CSV files for the benchmark.

    python3 bench/gen_csv.py --contacts tenant1.csv --out DIR \
        --base 100000 --sizes 1000,10000,100000,1000000 [--seed 20240601]

--contacts is the tenant's contacts as CSV with a header
(id,first_name,last_name,email,phone,mobile,street_address,city,state,
postcode,country), as bench/run.sh exports them from the database that
bench/gen_data.sql built.  Writes DIR/<size>.csv for every size: the full
36-column contract header, CRLF line ends, quoting as Excel/ActivePipe do.

The base file (--base rows) holds the mix of the benchmark issue, each row
drawn with these weights (contacts are drawn without replacement while the
tenant has unused ones):
  50%  email matches, the email written in another case and/or with spaces
   3%  email matches whose first name differs from the contact's (conflict)
  20%  mobile-only matches: no email, the mobile in international form
       (+61 412 345 678 for the contact's 0412 345 678)
  10%  phone-only matches: no email or mobile, the landline in another form
  10%  new people (keys the tenant does not hold)
   2%  rows with no key at all (no email, mobile or phone): skipped
   5%  rows repeating the key of an earlier row of the file (the same email
       in another case, or the same new person again) with other values
Every row carries integration values (status, tags, bed/price ranges, ...),
about one in 300 a range that is not a number ("$1.2m"), kept as text.
Smaller sizes are the first rows of the base file; a larger size is the base
file followed by new people only (the tenant has no more contacts to match).
"""
import argparse
import csv
import os
import random
import re
import sys

HEADER = [
    "firstname", "lastname", "email", "phone", "mobile", "streetaddress", "city",
    "state", "postcode", "country", "status", "sms_status", "subscribed_at",
    "unsubscribed_at", "unsubscribed_reason", "source", "modified_at",
    "latest_interaction", "buyertype", "locations", "propertytype", "category",
    "minbeds", "maxbeds", "minbaths", "maxbaths", "minprice", "maxprice",
    "minparking", "maxparking", "minlandsize", "maxlandsize", "minbuildingsize",
    "maxbuildingsize", "listingtype", "tags",
]
assert len(HEADER) == 36

FIRST = ["James", "Olivia", "William", "Charlotte", "Jack", "Amelia", "Noah", "Isla",
         "Thomas", "Mia", "Oliver", "Ava", "Lucas", "Grace", "Henry", "Chloe", "Leo",
         "Sophie", "Ethan", "Zoe", "Harvey", "Penelope", "Felix", "Eloise", "Jasper",
         "Violet", "Arlo", "Hazel", "Theo", "Poppy"]
LAST = ["Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Lee",
        "Martin", "Kelly", "Patel", "Chen", "Singh", "Rossi", "Murphy", "O'Brien",
        "Papadopoulos", "Tran", "Walker", "Campbell"]
SUBURBS = [("Bondi", "NSW", "2026"), ("Manly", "NSW", "2095"), ("Richmond", "VIC", "3121"),
           ("St Kilda", "VIC", "3182"), ("New Farm", "QLD", "4005"),
           ("Fremantle", "WA", "6160"), ("Glenelg", "SA", "5045"),
           ("Sandy Bay", "TAS", "7005"), ("Braddon", "ACT", "2612"),
           ("Surry Hills", "NSW", "2010")]
STREETS = ["George St", "Pitt St", "Beach Rd", "Ocean St", "Victoria Ave", "High St"]
STATUS = ["subscribed", "subscribed", "subscribed", "unsubscribed", "cleaned"]
SOURCES = ["ActivePipe", "Website", "Open home", "Referral", "Portal enquiry"]
BUYER = ["Buyer", "Investor", "Seller", "Renter", "First home buyer"]
LOCATIONS = ["Bondi;Coogee", "Manly", "Richmond;Fitzroy;Brunswick", "New Farm",
             "Glenelg;Norwood", "Surry Hills, Redfern"]
PTYPE = ["House", "Apartment", "Townhouse", "Land", "Villa"]
TAGS = ["vip;open-home", "newsletter", "investor; newsletter", "hot-lead;appraisal",
        "past-client;vip;newsletter", ""]
INTERACTIONS = ["Opened campaign", "Clicked listing", "", "", "", ""]

MIX = [("email", 50), ("conflict", 3), ("mobile", 20), ("phone", 10), ("new", 10),
       ("nokey", 2), ("repeat", 5)]


def digits(s):
    return re.sub(r"\D", "", s or "")


def national(s):
    """National significant number of an AU number as the tenant stores it."""
    d = digits(s)
    if d.startswith("61") and len(d) == 11:
        d = d[2:]
    if d.startswith("0") and len(d) == 10:
        d = d[1:]
    return d


def mobile_intl(nsn, r):
    # nsn: 9 digits starting with 4
    forms = ["+61 {0} {1} {2}", "+61{0}{1}{2}", "+61 {0}{1}{2}", "0011 61 {0} {1} {2}"]
    return r.choice(forms).format(nsn[0:3], nsn[3:6], nsn[6:9])


def phone_variant(nsn, r):
    # nsn: 9 digits, area digit first
    forms = ["0{0} {1} {2}", "+61 {0} {1} {2}", "(0{0}) {1}{2}", "0{0}{1}{2}"]
    return r.choice(forms).format(nsn[0], nsn[1:5], nsn[5:9])


def email_variant(e, r):
    k = r.randrange(6)
    if k == 0:
        return e.upper()
    if k == 1:
        return " " + e + " "
    if k == 2:
        local, _, dom = e.partition("@")
        return local.title() + "@" + dom.upper()
    if k == 3:
        return e[0].upper() + e[1:] + "  "
    if k == 4:
        return "  " + e.upper()
    return e.title()


def name_variant(n, r):
    if not n:
        return ""
    k = r.randrange(10)
    if k < 6:
        return n
    if k < 8:
        return n.upper() if k == 6 else n.lower()
    if k == 8:
        return " " + n + " "
    return ""


class Gen:
    def __init__(self, contacts, seed):
        self.r = random.Random(seed)
        self.contacts = contacts
        self.order = list(range(len(contacts)))
        self.r.shuffle(self.order)
        self.pos = {"email": 0, "mobile": 0, "phone": 0}
        self.used = set()
        self.taken_nsn = set()
        for c in contacts:
            for k in ("phone", "mobile"):
                if c[k]:
                    self.taken_nsn.add(national(c[k]))
        self.new_seq = 0
        self.earlier = []        # (kind, row) of rows a repeat may copy

    def pick(self, need):
        """An unused contact holding key `need`, else any contact holding it."""
        n = len(self.order)
        while self.pos[need] < n:
            i = self.order[self.pos[need]]
            self.pos[need] += 1
            c = self.contacts[i]
            if i not in self.used and c[need]:
                self.used.add(i)
                return c
        for _ in range(1000):   # pool exhausted: reuse one
            c = self.contacts[self.r.randrange(n)]
            if c[need]:
                return c
        return None

    def new_nsn(self, first):
        while True:
            nsn = "%s%08d" % (first, self.r.randrange(100000000))
            if nsn not in self.taken_nsn:
                self.taken_nsn.add(nsn)
                return nsn

    def integration(self, row):
        r = self.r
        st = r.choice(STATUS)
        row["status"] = st
        row["sms_status"] = r.choice(["subscribed", "unsubscribed", "", "", ""])
        if r.random() < 0.5:
            row["subscribed_at"] = "2023-%02d-%02d" % (r.randint(1, 12), r.randint(1, 28))
        if st != "subscribed":
            row["unsubscribed_at"] = "2025-%02d-%02d" % (r.randint(1, 12), r.randint(1, 28))
            row["unsubscribed_reason"] = r.choice(["Too many emails", "", "", ""])
        row["source"] = r.choice(SOURCES)
        row["modified_at"] = "2025-%02d-%02d" % (r.randint(1, 12), r.randint(1, 28))
        row["latest_interaction"] = r.choice(INTERACTIONS)
        row["buyertype"] = r.choice(BUYER)
        if r.random() < 0.7:
            row["locations"] = r.choice(LOCATIONS)
        row["propertytype"] = r.choice(PTYPE)
        row["category"] = r.choice(["Residential", "", "", "Rural", "Commercial"])
        row["minbeds"] = str(r.randint(1, 3))
        row["maxbeds"] = str(r.randint(3, 5))
        if r.random() < 0.5:
            row["minbaths"] = "1"
            row["maxbaths"] = str(r.randint(1, 3))
        row["minprice"] = str(400000 + 25000 * r.randrange(40))
        row["maxprice"] = str(1500000 + 50000 * r.randrange(40))
        if r.random() < 0.5:
            row["minparking"] = "1"
            row["maxparking"] = str(r.randint(1, 3))
        if r.random() < 0.2:
            row["minlandsize"] = str(300 + 50 * r.randrange(10))
        if r.random() < 0.0033:
            row["minprice"] = r.choice(["$1.2m", "offers over 900k", "POA"])
        row["listingtype"] = r.choice(["Sale", "Sale", "Rent"])
        row["tags"] = r.choice(TAGS)

    def address(self, row, c):
        r = self.r
        if c and c["city"] and r.random() < 0.7:
            for k, f in (("streetaddress", "street_address"), ("city", "city"),
                         ("state", "state"), ("postcode", "postcode"), ("country", "country")):
                row[k] = c[f] or ""
        elif r.random() < 0.6:
            sub = r.choice(SUBURBS)
            street = "%d %s" % (r.randint(1, 240), r.choice(STREETS))
            if r.random() < 0.15:
                street = "Unit %d, %s" % (r.randint(1, 30), street)
            row["streetaddress"] = street
            row["city"], row["state"], row["postcode"] = sub
            row["country"] = "Australia"

    def matched_row(self, kind):
        r = self.r
        need = {"email": "email", "conflict": "email", "mobile": "mobile",
                "phone": "phone"}[kind]
        c = self.pick(need)
        if c is None:
            return self.new_row()
        row = {}
        row["firstname"] = name_variant(c["first_name"], r)
        row["lastname"] = name_variant(c["last_name"], r)
        if kind in ("email", "conflict"):
            row["email"] = email_variant(c["email"], r)
            if c["mobile"] and r.random() < 0.5:
                row["mobile"] = mobile_intl(national(c["mobile"]), r)
            if kind == "conflict":
                others = [f for f in FIRST if f.lower() != (c["first_name"] or "").lower()]
                row["firstname"] = r.choice(others)
        elif kind == "mobile":
            row["mobile"] = mobile_intl(national(c["mobile"]), r)
        else:
            row["phone"] = phone_variant(national(c["phone"]), r)
        self.address(row, c)
        self.integration(row)
        return row

    def new_row(self):
        r = self.r
        self.new_seq += 1
        fn, ln = r.choice(FIRST), r.choice(LAST)
        row = {"firstname": fn, "lastname": ln}
        row["email"] = "%s.%s.%d@example.net" % (fn.lower(), ln.lower().replace("'", ""), self.new_seq)
        if r.random() < 0.8:
            row["mobile"] = mobile_intl(self.new_nsn("4"), r)
        if r.random() < 0.3:
            row["phone"] = phone_variant(self.new_nsn(r.choice("2378")), r)
        self.address(row, None)
        self.integration(row)
        return row

    def nokey_row(self):
        r = self.r
        row = {"firstname": r.choice(FIRST), "lastname": r.choice(LAST)}
        self.address(row, None)
        self.integration(row)
        return row

    def repeat_row(self):
        if not self.earlier:
            return self.matched_row("email")
        prev = self.r.choice(self.earlier)
        row = dict(prev)
        row["email"] = email_variant(prev["email"].strip().lower(), self.r)
        for k in HEADER[10:]:
            row.pop(k, None)
        self.integration(row)   # the same person, newer values
        return row

    def row(self):
        kind = self.r.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        if kind in ("email", "conflict", "mobile", "phone"):
            row = self.matched_row(kind)
        elif kind == "new":
            row = self.new_row()
        elif kind == "nokey":
            row = self.nokey_row()
        else:
            row = self.repeat_row()
        if kind in ("email", "new") and row.get("email") and len(self.earlier) < 50000:
            self.earlier.append(row)
        return row


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(HEADER)
        for row in rows:
            w.writerow([row.get(h, "") for h in HEADER])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", type=int, default=100000)
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--seed", type=int, default=20240601)
    a = ap.parse_args()

    with open(a.contacts, newline="", encoding="utf-8") as f:
        contacts = list(csv.DictReader(f))
    g = Gen(contacts, a.seed)
    base = [g.row() for _ in range(a.base)]
    sizes = sorted({int(s) for s in a.sizes.split(",") if s} | {a.base})
    extra = []
    if sizes[-1] > a.base:
        extra = [g.new_row() for _ in range(sizes[-1] - a.base)]
    os.makedirs(a.out, exist_ok=True)
    for n in sizes:
        rows = base[:n] if n <= a.base else base + extra[:n - a.base]
        write(os.path.join(a.out, "%d.csv" % n), rows)
        print("%s/%d.csv: %d rows, %d bytes" % (a.out, n, len(rows),
              os.path.getsize(os.path.join(a.out, "%d.csv" % n))), file=sys.stderr)


if __name__ == "__main__":
    main()
