#!/usr/bin/env python3
"""Write an OCI image layout by hand, for the tests' odd cases (umoci and
skopeo write the ordinary ones).

  mk-oci.py SPEC.json

SPEC: {"out": DIR, "images": [IMAGE...]}, IMAGE:
  {"ref": "v1",                 annotation org.opencontainers.image.ref.name
   "arch": "amd64", "os": "linux",
   "env": ["A=b"],              the config's Env
   "layer_type": "...",         media type of every layer (default tar+gzip)
   "platforms": [ARCH...],      behind an index: one manifest per ARCH (this
                                image's layers each), the index named ref
   "layers": [[ENTRY...]...]}
ENTRY: "d:NAME" a directory, "f:NAME" a small file, "F:NAME:HOSTPATH" a
host file's content (mode kept), "l:NAME:TARGET" a symbolic link,
"h:NAME:TARGET" a hard link, "x:NAME" an executable small script, "s:NAME"
the same, setuid and setgid.
A digest beginning "raw:" in "config_digest" is written as given.
"""
import gzip, hashlib, io, json, os, sys, tarfile

spec = json.load(open(sys.argv[1]))
out = spec["out"]
os.makedirs(out + "/blobs/sha256", exist_ok=True)


def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(f"{out}/blobs/sha256/{d}", "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)


def layer(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            kind, rest = e.split(":", 1)
            if kind in "lhF":
                name, target = rest.split(":", 1)
            else:
                name, target = rest, None
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            data = None
            if kind == "d":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "l":
                ti.type, ti.linkname = tarfile.SYMTYPE, target
            elif kind == "h":
                ti.type, ti.linkname = tarfile.LNKTYPE, target
            elif kind == "F":
                data = open(target, "rb").read()
                ti.mode = os.stat(target).st_mode & 0o7777
            elif kind in "xs":
                data = b"#!/bin/sh\necho from-image\n"
                ti.mode = 0o6755 if kind == "s" else 0o755
            else:
                data, ti.mode = b"content of " + name.encode() + b"\n", 0o644
            if data is not None:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    return buf.getvalue()


def manifest(img, arch):
    ltype = img.get("layer_type", "application/vnd.oci.image.layer.v1.tar+gzip")
    layers, diffs = [], []
    for entries in img["layers"]:
        raw = layer(entries)
        diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
        blob = gzip.compress(raw, mtime=0) if ltype.endswith("gzip") else raw
        d, n = put(blob)
        layers.append({"mediaType": ltype, "digest": d, "size": n})
    config = {"architecture": arch, "os": img.get("os", "linux"),
              "config": {"Env": img.get("env", [])},
              "rootfs": {"type": "layers", "diff_ids": diffs}}
    cd, cn = put(json.dumps(config).encode())
    if "config_digest" in img:
        cd = img["config_digest"]
    m = {"schemaVersion": 2,
         "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": cd, "size": cn},
         "layers": layers}
    md, mn = put(json.dumps(m).encode())
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": mn,
            "platform": {"architecture": arch, "os": img.get("os", "linux")}}


descs = []
for img in spec["images"]:
    ann = {"org.opencontainers.image.ref.name": img["ref"]} if "ref" in img else None
    if "platforms" in img:
        idx = {"schemaVersion": 2,
               "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": [manifest(img, a) for a in img["platforms"]]}
        d, n = put(json.dumps(idx).encode())
        desc = {"mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": d, "size": n}
    else:
        desc = manifest(img, img.get("arch", "amd64"))
        del desc["platform"]
    if ann:
        desc["annotations"] = ann
    descs.append(desc)
with open(out + "/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": descs}, f)
with open(out + "/oci-layout", "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
