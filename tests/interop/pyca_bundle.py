#!/usr/bin/env python3
"""Format v2 bundles with pyca/cryptography alone, written from docs/bundle-format.md.

An independent implementation for tests/pyca_interop.rs: it never imports or runs the crate.

    pyca_bundle.py make OUTDIR ROOT.pem...   # keys, signers.json, a hybrid bundle.json
    pyca_bundle.py verify BUNDLE SIGNERS     # exit 0 and {"ok": true}, or exit 1 and why
    pyca_bundle.py keys PRIVATE.pem PUBLIC.pem  # read both; print the raw public key (hex)
    pyca_bundle.py genkey OUTDIR             # an ML-DSA-65 key as PKCS#8 and SPKI PEM

`make` writes a 2-of-3 Ed25519 AND 2-of-3 ML-DSA-65 signer set (the device's current set,
which is also the bundle's next set) and a version-2 bundle for fleet "acme-prod" over the
given roots, signed by two keys of each group. `verify` checks a v2 bundle against a
signer-set file (groups form) the way docs/bundle-format.md says a device does, minus the
X.509 and time rules, which are not what this test is about.
"""

import base64
import hashlib
import json
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

V2 = "application/vnd.aws-iot-roots.bundle.v2+json"
RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
KEY_LEN = {"ed25519": 32, "ml-dsa-65": 1952, "ml-dsa-87": 2592}


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text, validate=True)


def key_hash(raw):
    return hashlib.sha256(raw).hexdigest()


def pae(payload_type, payload):
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d " % (len(t), t, len(payload)) + payload


def make(outdir, root_files):
    ed = [ed25519.Ed25519PrivateKey.generate() for _ in range(3)]
    ml = [mldsa.MLDSA65PrivateKey.generate() for _ in range(3)]
    ed_raw = [k.public_key().public_bytes(*RAW) for k in ed]
    ml_raw = [k.public_key().public_bytes(*RAW) for k in ml]
    certs = []
    for f in root_files:
        with open(f, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
        certs.append(cert.public_bytes(serialization.Encoding.DER))
    payload = {
        "schema": 2,
        "fleet": "acme-prod",
        "version": 2,
        "issued_at": "2027-01-01T00:00:00Z",
        "expires_at": "2028-01-01T00:00:00Z",
        "roots": [{"sha256": hashlib.sha256(c).hexdigest()} for c in certs],
        "signers": {
            "groups": [
                {"algorithm": "ed25519", "threshold": 2,
                 "keys": [key_hash(k) for k in ed_raw]},
                {"algorithm": "ml-dsa-65", "threshold": 2,
                 "keys": [key_hash(k) for k in ml_raw]},
            ]
        },
    }
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    message = pae(V2, body)
    signatures = []
    for key, raw in [(ed[0], ed_raw[0]), (ed[1], ed_raw[1]),
                     (ml[0], ml_raw[0]), (ml[1], ml_raw[1])]:
        # Pure ML-DSA with the empty context (cryptography's default), pure Ed25519.
        signatures.append({"keyid": key_hash(raw), "sig": b64(key.sign(message))})
    bundle = {
        "envelope": {"payloadType": V2, "payload": b64(body), "signatures": signatures},
        "certificates": [b64(c) for c in certs],
        "keys": [b64(k) for k in ed_raw + ml_raw],
    }
    signers = {
        "groups": [
            {"algorithm": "ed25519", "threshold": 2, "keys": [b64(k) for k in ed_raw]},
            {"algorithm": "ml-dsa-65", "threshold": 2, "keys": [b64(k) for k in ml_raw]},
        ]
    }
    with open(f"{outdir}/bundle.json", "w") as fh:
        json.dump(bundle, fh, indent=2)
    with open(f"{outdir}/signers.json", "w") as fh:
        json.dump(signers, fh, indent=2)


def signature_ok(algorithm, raw_key, sig, message):
    try:
        if algorithm == "ed25519":
            ed25519.Ed25519PublicKey.from_public_bytes(raw_key).verify(sig, message)
        elif algorithm == "ml-dsa-65":
            mldsa.MLDSA65PublicKey.from_public_bytes(raw_key).verify(sig, message)
        elif algorithm == "ml-dsa-87":
            mldsa.MLDSA87PublicKey.from_public_bytes(raw_key).verify(sig, message)
        else:
            return False
        return True
    except (InvalidSignature, ValueError):
        return False


def group_met(group_keys, algorithm, threshold, envelope, message):
    """group_keys: {hex hash: raw key}. v2: an entry counts only for the key its keyid names."""
    signed = set()
    for entry in envelope["signatures"]:
        kid = entry.get("keyid", "")
        if kid in group_keys and signature_ok(algorithm, group_keys[kid], unb64(entry["sig"]),
                                              message):
            signed.add(kid)
    return len(signed) >= threshold


def verify(bundle_path, signers_path):
    with open(bundle_path) as fh:
        bundle = json.load(fh)
    with open(signers_path) as fh:
        current = json.load(fh)
    env = bundle["envelope"]
    if env["payloadType"] != V2:
        return "payloadType"
    body = unb64(env["payload"])
    message = pae(V2, body)
    current_groups = []
    for g in current["groups"]:
        keys = {key_hash(unb64(k)): unb64(k) for k in g["keys"]}
        current_groups.append((g["algorithm"], g["threshold"], keys))
    # 3. Every current group, over the PAE, before the payload is parsed.
    for algorithm, threshold, keys in current_groups:
        if not group_met(keys, algorithm, threshold, env, message):
            return f"current {algorithm} threshold"
    payload = json.loads(body)
    if payload["schema"] != 2:
        return "schema"
    # 7. The next set's keys: exactly the named hashes, each of its group's length.
    carried = {}
    for k in bundle.get("keys", []):
        raw = unb64(k)
        h = key_hash(raw)
        if h in carried:
            return "key carried twice"
        carried[h] = raw
    named = [h for g in payload["signers"]["groups"] for h in g["keys"]]
    if sorted(named) != sorted(carried) or len(set(named)) != len(named):
        return "carried keys do not match the named hashes"
    next_groups = []
    for g in payload["signers"]["groups"]:
        if g["algorithm"] not in KEY_LEN:
            return "unknown algorithm"
        keys = {h: carried[h] for h in g["keys"]}
        if any(len(raw) != KEY_LEN[g["algorithm"]] for raw in keys.values()):
            return "key length"
        next_groups.append((g["algorithm"], g["threshold"], keys))
    shape = lambda groups: sorted((a, t, sorted(k)) for a, t, k in groups)
    if shape(next_groups) != shape(current_groups):
        for algorithm, threshold, keys in next_groups:
            if not group_met(keys, algorithm, threshold, env, message):
                return f"new {algorithm} threshold"
    # 9. Certificates: exactly the listed ones, by SHA-256.
    listed = sorted(r["sha256"] for r in payload["roots"])
    certs = sorted(hashlib.sha256(unb64(c)).hexdigest() for c in bundle["certificates"])
    if listed != certs:
        return "certificates do not match the listed roots"
    return None


def keys(private_path, public_path):
    """Reads an ML-DSA key pair another tool wrote: PKCS#8 (RFC 9881 seed form) and SPKI."""
    with open(private_path, "rb") as fh:
        private = serialization.load_pem_private_key(fh.read(), password=None)
    with open(public_path, "rb") as fh:
        public = serialization.load_pem_public_key(fh.read())
    a = private.public_key().public_bytes(*RAW)
    b = public.public_bytes(*RAW)
    print(json.dumps({"from_private": a.hex(), "from_public": b.hex(),
                      "type": type(private).__name__}))
    return 0 if a == b else 1


def genkey(outdir):
    key = mldsa.MLDSA65PrivateKey.generate()
    with open(f"{outdir}/py.pem", "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    with open(f"{outdir}/py.pub", "wb") as fh:
        fh.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo))
    print(key.public_key().public_bytes(*RAW).hex())


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3:])
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "verify":
        why = verify(sys.argv[2], sys.argv[3])
        print(json.dumps({"ok": why is None, "reason": why}))
        return 0 if why is None else 1
    if len(sys.argv) == 4 and sys.argv[1] == "keys":
        return keys(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 3 and sys.argv[1] == "genkey":
        genkey(sys.argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
