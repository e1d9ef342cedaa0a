#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""A plain Python poller of Acronis resource statuses: the comparison for benches/compare.rs.

It is written the way Acronis's own Python samples are (acronis-cyber-platform-python-
examples): `requests`, a `base_url`, a client-credentials token with
`auth=(client_id, client_secret)`, a customer-scoped token by the jwt-bearer exchange,
a `while` loop over `paging.cursors.after`, each page's items gathered in a list of
rows and written to SQLite (the standard library's `sqlite3`) with one `executemany`
in one transaction per page. No threads, no faster JSON library: it is the cron job
of Python scripts that acronis-watch replaces, written the fair way a user would, doing
the same job as `acronis-watch once`:

  * list the customer tenants below the API client's own tenant;
  * per customer, sequentially: a scoped token, then every page of
    `resource_statuses?order=desc(updated_at)&limit=500` (no `type=`: like the
    worker's default, it watches machines and every agentless VM type, a family the
    API cannot filter by);
  * keep what the worker keeps of every machine (id, tenant, name, type, status,
    updated_at, its policies as JSON) in a `resources` table and each tenant's watermark (the first page's `timestamp`) in a
    `watermarks` table of one SQLite file.

With no state file the run is cold (everything is read). With one, it is incremental:
each tenant asks only for `updated_at=gt(watermark - overlap)` with deleted machines
included (deleted from the table), like the worker's incremental pass.

Needs only `requests`. Prints one JSON line: tenants, pages, items, stored, seconds.

    python3 poller.py --base-url http://127.0.0.1:8080/ --state state.json
"""

import argparse
import json
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone

import requests


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = "Bearer " + self.token
        return r


def fail(response, what):
    print(f"{what} failed: {response.status_code} {response.text[:500]}", file=sys.stderr)
    sys.exit(1)


def issue_token(session, base_url, client_id, client_secret):
    response = session.post(
        f"{base_url}api/2/idp/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(client_id, client_secret),
        data={"grant_type": "client_credentials"},
    )
    if not response.ok:
        fail(response, "token")
    return response.json()["access_token"]


def issue_scoped_token(session, base_url, access_token, tenant_id):
    params = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": access_token,
        "scope": f"urn:acronis.com:tenant-id:{tenant_id}",
    }
    response = session.post(
        f"{base_url}api/2/idp/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=BearerAuth(access_token),
        data=params,
    )
    if response.status_code == 400 and "unsupported_grant_type" in response.text:
        # Older datacenters take this grant only on the Backup Console's endpoint.
        response = session.post(
            f"{base_url}bc/idp/token",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=BearerAuth(access_token),
            data=params,
        )
    if not response.ok:
        fail(response, f"scoped token for {tenant_id}")
    return response.json()["access_token"]


def list_customers(session, base_url, access_token, client_id):
    response = session.get(f"{base_url}api/2/clients/{client_id}", auth=BearerAuth(access_token))
    if not response.ok:
        fail(response, "API client")
    root = response.json()["tenant_id"]

    customers = []
    params = {"subtree_root_id": root, "lod": "basic"}
    while True:
        response = session.get(f"{base_url}api/2/tenants", params=params, auth=BearerAuth(access_token))
        if not response.ok:
            fail(response, "tenants")
        page = response.json()
        for tenant in page["items"]:
            if tenant.get("kind") == "customer" and tenant.get("deleted_at") is None:
                customers.append(tenant["id"])
        after = page.get("paging", {}).get("cursors", {}).get("after")
        if not after or not page["items"]:
            break
        params = {"after": after}  # the cursor is self-contained
    return customers


def poll_tenant(session, base_url, token, since, page_size, db, tenant_id):
    """Page one tenant's machines into the database; returns (watermark, pages, items)."""
    params = {
        "order": "desc(updated_at)",
        "limit": f"{page_size}",
    }
    if since is not None:
        params["updated_at"] = f"gt({since})"
        params["include_deleted"] = "true"
    watermark = None
    pages = items = 0
    while True:
        response = session.get(
            f"{base_url}api/resource_management/v4/resource_statuses",
            params=params,
            auth=BearerAuth(token),
        )
        if not response.ok:
            fail(response, "resource_statuses")
        page = response.json()
        pages += 1
        if watermark is None:
            watermark = page.get("timestamp")
        rows = []
        gone = []
        for item in page["items"]:
            items += 1
            context = item["context"]
            if context.get("deleted_at"):
                gone.append((context["id"],))
            else:
                aggregate = item.get("aggregate") or {}
                rows.append(
                    (
                        context["id"],
                        tenant_id,
                        context.get("name"),
                        context.get("type"),
                        aggregate.get("status"),
                        context.get("updated_at"),
                        json.dumps(item.get("policies") or []),
                    )
                )
        with db:  # one transaction per page
            db.executemany(
                "INSERT OR REPLACE INTO resources (id, tenant, name, type, status, updated_at, policies)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany("DELETE FROM resources WHERE id = ?", gone)
        after = page.get("paging", {}).get("cursors", {}).get("after")
        if not after or not page["items"]:
            break
        params = dict(params, after=after)
    return watermark, pages, items


def parse_time(value):
    # The API's timestamps carry up to 9 fraction digits; Python keeps 6.
    value = value.rstrip("Z")
    if "." in value:
        head, fraction = value.split(".")
        value = f"{head}.{fraction[:6]}"
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="datacenter URL, ending in /")
    parser.add_argument("--client-id", default="sim-client")
    parser.add_argument("--client-secret", default="sim-secret")
    parser.add_argument("--state", required=True, help="the SQLite state file")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--overlap", type=int, default=120, help="seconds read back before the watermark")
    args = parser.parse_args()
    base_url = args.base_url if args.base_url.endswith("/") else args.base_url + "/"

    started = time.monotonic()
    db = sqlite3.connect(args.state)
    # What a user tuning SQLite for a poller writes first: the write-ahead log, synced
    # at checkpoints rather than at every page's commit.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS resources (id TEXT PRIMARY KEY, tenant TEXT, name TEXT, type TEXT,"
        " status TEXT, updated_at TEXT, policies TEXT)"
    )
    db.execute("CREATE TABLE IF NOT EXISTS watermarks (tenant TEXT PRIMARY KEY, watermark TEXT)")
    watermarks = dict(db.execute("SELECT tenant, watermark FROM watermarks"))

    session = requests.Session()
    access_token = issue_token(session, base_url, args.client_id, args.client_secret)
    customers = list_customers(session, base_url, access_token, args.client_id)

    pages = items = 0
    for tenant_id in customers:
        since = None
        previous = watermarks.get(tenant_id)
        if previous is not None:
            since = (parse_time(previous) - timedelta(seconds=args.overlap)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        token = issue_scoped_token(session, base_url, access_token, tenant_id)
        watermark, tenant_pages, tenant_items = poll_tenant(
            session, base_url, token, since, args.page_size, db, tenant_id
        )
        pages += tenant_pages
        items += tenant_items
        if watermark is not None:
            with db:
                db.execute(
                    "INSERT OR REPLACE INTO watermarks (tenant, watermark) VALUES (?, ?)",
                    (tenant_id, watermark),
                )

    stored = db.execute("SELECT count(*) FROM resources").fetchone()[0]
    db.close()

    print(
        json.dumps(
            {
                "tenants": len(customers),
                "pages": pages,
                "items": items,
                "stored": stored,
                "seconds": round(time.monotonic() - started, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
