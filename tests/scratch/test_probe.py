import json
import aiohttp
from tests.api.deployments.conftest import ARTIFACTS, upload, upload_ok, upload_form, maker  # noqa
from tests.support.artifacts import artifact_maker  # noqa

INTERNAL = "/api/internal/v1/deployments"


async def test_probe(client, user_headers, maker):
    out = []
    async def show(label, response):
        out.append((label, response.status, (await response.text())[:150]))
    await show("limit huge", await client.put(f"{INTERNAL}/tenants/default/limits/storage", json={"limit": 10**30}))
    await show("limit 2**63", await client.put(f"{INTERNAL}/tenants/default/limits/storage", json={"limit": 2**63}))
    await show("limit float", await client.put(f"{INTERNAL}/tenants/default/limits/storage", json={"limit": 1.5}))
    await show("no boundary", await client.post(ARTIFACTS, data=b"xxxx", headers={**user_headers, "Content-Type": "multipart/form-data"}))
    for size in ("1e3", "-1", "9" * 40, " 12 ", "١٢"):
        await show(f"size {size!r}", await upload(client, user_headers, b"junk" * 10, size=size if False else None, fields={"size": size}))
    form = aiohttp.FormData()
    form.add_field("description", b"\xff\xfe", content_type="text/plain")
    form.add_field("artifact", b"junk", filename="a")
    await show("desc non-utf8", await client.post(ARTIFACTS, data=form, headers=user_headers))
    await show("releases empty name", await client.get("/api/management/v1/deployments/deployments/releases?name=", headers=user_headers))
    art = await upload_ok(client, user_headers, maker.single_file("probe-1"))
    link = (await (await client.get(f"{ARTIFACTS}/{art}/download", headers=user_headers)).json())["uri"]
    path = link.split(str(client.server.port), 1)[1]
    for rng in ("bytes=abc", "bytes=5-3", "bytes=0-1,5-6", "bytes=-100", "items=0-1", "bytes=0-999999999"):
        r = await client.get(path, headers={"Range": rng})
        out.append((f"range {rng}", r.status, r.headers.get("Content-Range"), r.headers.get("Content-Type"), (await r.read())[:60]))
    await show("bad expire", await client.get(path.replace("x-men-expire=", "x-men-expire=zz")))
    await show("HEAD expired", await client.head(path.replace("x-men-signature=", "x-men-signature=A")))
    await show("POST download", await client.post(path))
    await show("put list", await client.put(f"{ARTIFACTS}/{art}", json=[], headers=user_headers))
    await show("put null", await client.put(f"{ARTIFACTS}/{art}", json={"description": None}, headers=user_headers))
    await show("put {}", await client.put(f"{ARTIFACTS}/{art}", json={}, headers=user_headers))
    await show("tenant int", await client.post(f"{INTERNAL}/tenants", json={"tenant_id": 123}))
    await show("tenant long", await client.post(f"{INTERNAL}/tenants", json={"tenant_id": "x" * 100}))
    await show("tenant slash", await client.post(f"{INTERNAL}/tenants", json={"tenant_id": "a/b"}))
    def gen(**kw):
        fields = {"name": "g1", "device_types_compatible": "a", "type": "single_file", "args": json.dumps({"dest_dir": "/opt"}), **kw}
        f = aiohttp.FormData()
        for k, v in fields.items():
            f.add_field(k, v)
        f.add_field("file", b"data", filename="x.bin")
        return f
    await show("gen deep args", await client.post(f"{ARTIFACTS}/generate", data=gen(args="[" * 30000 + "]" * 30000), headers=user_headers))
    await show("gen deep obj args", await client.post(f"{ARTIFACTS}/generate", data=gen(args='{"a":' * 20000 + "1" + "}" * 20000), headers=user_headers))
    await show("gen perms int", await client.post(f"{ARTIFACTS}/generate", data=gen(args=json.dumps({"dest_dir": "/o", "permissions": 644})), headers=user_headers))
    await show("gen dest newline", await client.post(f"{ARTIFACTS}/generate", data=gen(name="g2", args=json.dumps({"dest_dir": "/o\nx"})), headers=user_headers))
    await show("gen name unicode", await client.post(f"{ARTIFACTS}/generate", data=gen(name="ünï cødé ✓"), headers=user_headers))
    await show("gen dt many", await client.post(f"{ARTIFACTS}/generate", data=gen(name="g3", device_types_compatible=",".join(f"d{i}" for i in range(2000))), headers=user_headers))
    await show("gen filename arg int", await client.post(f"{ARTIFACTS}/generate", data=gen(name="g4", args=json.dumps({"dest_dir": "/o", "filename": 5})), headers=user_headers))
    await show("show v1 uuid", await client.get(f"{ARTIFACTS}/6ba7b810-9dad-11d1-80b4-00c04fd430c8", headers=user_headers))
    await show("show upper", await client.get(f"{ARTIFACTS}/{art.upper()}", headers=user_headers))
    await show("many fields", await upload(client, user_headers, b"x", fields={f"f{i}": "v" for i in range(100)}))
    await client.app["menderlite_ctx"].deployments.artifacts.wait_idle() if False else None
    for line in out:
        print(line)
