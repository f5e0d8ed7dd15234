"""ACL scenarios run by py-consul (a Consul client this team did not write)
against a devagent with ACLs on, default_policy "deny" and no management
token yet. Exits non-zero with a message on the first failure.

Usage: python3 py_consul_acl.py HOST PORT
"""
import sys

import consul
from consul import ACLPermissionDenied


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def raises(exc, fn, what):
    try:
        fn()
    except exc as e:
        print(f"ok: {what} ({e})")
        return
    print(f"FAILED: {what}: no {exc.__name__}", file=sys.stderr)
    sys.exit(1)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    anon = consul.Consul(host=host, port=port)

    boot = anon.acl.bootstrap()
    check(boot["Policies"][0]["Name"] == "global-management", "bootstrap gives a management token")
    raises(ACLPermissionDenied, anon.acl.bootstrap, "a second bootstrap is refused")
    root = consul.Consul(host=host, port=port, token=boot["SecretID"])

    root.agent.service.register("web", service_id="web1", port=80)
    root.agent.service.register("db", service_id="db1", port=5432)
    root.kv.put("app/config", "v1")
    root.kv.put("secret/key", "s")
    check(anon.catalog.services()[1] == {}, "the anonymous token reads no service")

    # py-consul sends rules as JSON (it json.dumps what it is given).
    policy = root.acl.policy.create(
        name="web-app",
        rules={
            "service": {"web": {"policy": "write"}, "db": {"policy": "deny"}},
            "service_prefix": {"": {"policy": "read"}},
            "node_prefix": {"": {"policy": "read"}},
            "key_prefix": {"app/": {"policy": "read"}},
        },
    )
    check(root.acl.policy.read(policy["ID"])["Name"] == "web-app", "policy reads back")
    tok = root.acl.token.create(description="web app", policies_name=["web-app"])
    check(tok["Policies"][0]["ID"] == policy["ID"], "token links the policy by ID")
    app = consul.Consul(host=host, port=port, token=tok["SecretID"])

    services = app.catalog.services()[1]
    check("web" in services and "db" not in services, "catalog leaves out the denied service")
    check(app.kv.get("app/config")[1]["Value"] == b"v1", "the token reads app/")
    raises(ACLPermissionDenied, lambda: app.kv.get("secret/key"), "secret/ is refused")
    raises(ACLPermissionDenied, lambda: app.kv.put("app/config", "v2"), "app/ is read-only")
    _, recursed = app.kv.get("", recurse=True)
    check([e["Key"] for e in recursed] == ["app/config"], "recurse leaves out secret/")
    app.agent.service.register("web", service_id="web2", port=81)
    raises(
        ACLPermissionDenied,
        lambda: app.agent.service.register("api", service_id="api1", port=82),
        "registering another service is refused",
    )

    me = app.acl.token.read_self()
    check(me["AccessorID"] == tok["AccessorID"], "token/self")
    copy = root.acl.token.clone(tok["AccessorID"], description="copy")
    check(copy["AccessorID"] != tok["AccessorID"] and copy["Description"] == "copy", "clone")
    listed = [t["AccessorID"] for t in root.acl.token.list()]
    check(tok["AccessorID"] in listed and copy["AccessorID"] in listed, "token list")
    check(root.acl.token.delete(copy["AccessorID"]) is True, "token delete")
    raises(ACLPermissionDenied, lambda: app.acl.token.list(), "listing tokens needs acl:read")
    check(root.acl.policy.delete(policy["ID"]) is True, "policy delete")
    raises(ACLPermissionDenied, lambda: app.kv.get("app/config"), "a deleted policy grants nothing")
    print("all py-consul ACL scenarios passed")


if __name__ == "__main__":
    main()
