"""A signed status answer as a tender platform in Python would check it: PyJWT
(with `cryptography`), not this project's code, verifies the compact JWS with
the register's published key set, its explicit `typ`, and that its claims are
the JSON answer's. Run by `run` against a seeded register:
`signed_answer.py BASE_URL`."""

import datetime
import json
import sys
import urllib.request

import jwt


def check(condition, what):
    if not condition:
        sys.exit(f"signed answer check: {what}")


def fetch(url, accept="application/json", body=None):
    request = urllib.request.Request(url, data=body, headers={"Accept": accept})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers, response.read()


base = sys.argv[1].rstrip("/")
_, jwks = fetch(base + "/.well-known/jwks.json")
keys = jwt.PyJWKSet.from_json(jwks.decode())
origin = fetch(base + "/v1/log/verifier-key")[1].decode().split("+")[0]

# A company the seed certified: the first of a search.
_, page = fetch(base + "/v1/companies?status=active&limit=5")
kvk = json.loads(page)["items"][0]["kvkNumber"]

# One instant for both answers (without `on`, each is asked about its own now).
on = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
path = f"/v1/companies/{kvk}/status?on={on}"
headers, token = fetch(base + path, accept="application/jose")
check(headers["Content-Type"] == "application/jose", f"content type {headers['Content-Type']}")
check(headers.get("Cache-Control") == "no-store", "a signed answer is not stored")
header = jwt.get_unverified_header(token)
check(header.get("typ") == "pso-status+jwt", f"typ {header.get('typ')}")
check(header.get("alg") == "EdDSA", f"alg {header.get('alg')}")
key = next((k for k in keys.keys if k.key_id == header.get("kid")), None)
check(key is not None, f"kid {header.get('kid')} is in the key set")
claims = jwt.decode(token, key=key.key, algorithms=["EdDSA"], issuer=origin,
                    options={"require": ["iss", "iat", "jti"]})
_, plain = fetch(base + path)
for field, value in json.loads(plain).items():
    if field != "checkedAt":
        check(claims.get(field) == value, f"claim {field}: {claims.get(field)!r} != {value!r}")
check(claims["jti"].startswith("PSO-"), f"jti {claims['jti']}")
check(claims["checkpoint"].startswith(origin + "\n"), "the checkpoint is the register's")

# A changed claim does not verify.
head, payload, signature = token.decode().split(".")
forged = f"{head}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
try:
    jwt.decode(forged, key=key.key, algorithms=["EdDSA"], options={"verify_iss": False})
    check(False, "a changed answer verifies")
except jwt.InvalidTokenError:
    pass

# The batch: one JWS for all, in request order.
numbers = [kvk, "99999999"]
_, batch = fetch(base + "/v1/status/batch", accept="application/jose",
                 body=json.dumps({"kvkNumbers": numbers}).encode())
items = jwt.decode(batch, key=key.key, algorithms=["EdDSA"], issuer=origin)["items"]
check([i["kvkNumber"] for i in items] == numbers, "the batch answers in request order")
check(items[1]["certified"] is False, "an unknown number is not certified")
print(f"signed answer check: {base}: PyJWT {jwt.__version__} verifies a status answer and a batch with the published key set")
