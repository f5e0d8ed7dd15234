"""Scenarios run by py-consul (a Consul client this team did not write)
against a devagent. Exits non-zero with a message on the first failure.

Usage: python3 py_consul_scenarios.py HOST PORT
"""
import sys
import threading
import time

import consul


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    c = consul.Consul(host=host, port=port)

    # readiness as py-consul's own test fixtures do it
    check(c.status.leader() != "", "status.leader answers")
    me = c.agent.self()
    check(me["Config"]["NodeName"] != "", "agent.self has a node name")
    check(c.catalog.services()[1] == {"consul": []}, "fresh catalog holds only consul")

    # register with two checks; IDs are service:<id>:1 and :2
    c.agent.service.register(
        "foo",
        service_id="foo1",
        address="127.0.0.5",
        port=8080,
        tags=["v1"],
        meta={"env": "test"},
        check=consul.Check.ttl("10s"),
        extra_checks=[consul.Check.ttl("20s")],
    )
    checks = c.agent.checks()
    check("service:foo1:1" in checks and "service:foo1:2" in checks, "two checks get numbered IDs")
    check(checks["service:foo1:1"]["Status"] == "critical", "new checks start critical")
    _, nodes = c.health.service("foo", passing=True)
    check(nodes == [], "critical instance is not passing")
    c.agent.check.ttl_pass("service:foo1:1", notes="ok")
    c.agent.check.ttl_pass("service:foo1:2")
    _, nodes = c.health.service("foo", passing=True, tag="v1")
    check(len(nodes) == 1 and nodes[0]["Service"]["Port"] == 8080, "health.service passing with tag")
    check(nodes[0]["Service"]["Meta"] == {"env": "test"}, "meta round-trips")
    _, svcs = c.catalog.service("foo")
    check(svcs[0]["ServiceAddress"] == "127.0.0.5", "catalog.service address")

    # blocking query: a watcher wakes when the check changes
    index, _ = c.health.service("foo")
    result = {}

    def watch():
        start = time.time()
        idx, data = c.health.service("foo", index=index, wait="10s")
        result["index"], result["data"], result["took"] = idx, data, time.time() - start

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.3)
    c.agent.check.ttl_fail("service:foo1:1", notes="broken")
    t.join(15)
    check(int(result["index"]) > int(index), "blocking health query returns a newer index")
    check(result["took"] < 5, "blocking health query woke on the change")
    statuses = {ch["CheckID"]: ch["Status"] for ch in result["data"][0]["Checks"]}
    check(statuses["service:foo1:1"] == "critical", "watcher sees the failed check")

    # KV
    check(c.kv.put("app/config", "v1") is True, "kv.put")
    idx, item = c.kv.get("app/config")
    check(item["Value"] == b"v1", "kv.get value")
    check(c.kv.put("app/config", "v2", cas=item["ModifyIndex"]) is True, "kv cas with current index")
    check(c.kv.put("app/config", "v3", cas=item["ModifyIndex"]) is False, "kv cas with stale index")
    c.kv.put("app/other", "x", flags=7)
    _, items = c.kv.get("app/", recurse=True)
    check([i["Key"] for i in items] == ["app/config", "app/other"], "kv recurse")
    check(items[1]["Flags"] == 7, "kv flags")
    _, keys = c.kv.get("", keys=True)
    check(keys == ["app/config", "app/other"], "kv keys")
    _, missing = c.kv.get("nope")
    check(missing is None, "missing key is None")

    # blocking KV on a missing key
    idx, _ = c.kv.get("later")
    got = {}

    def wait_key():
        got["r"] = c.kv.get("later", index=idx, wait="10s")

    t = threading.Thread(target=wait_key)
    t.start()
    time.sleep(0.3)
    c.kv.put("later", "now")
    t.join(15)
    check(got["r"][1]["Value"] == b"now", "blocking kv.get wakes when the key appears")

    # sessions and locks
    sid = c.session.create(name="lock-holder", ttl=10, behavior="release", lock_delay=0)
    check(c.kv.put("locks/leader", "me", acquire=sid) is True, "acquire")
    other = c.session.create(lock_delay=0)
    check(c.kv.put("locks/leader", "them", acquire=other) is False, "second acquire fails")
    _, info = c.session.info(sid)
    check(info["Name"] == "lock-holder" and info["TTL"] == "10s", "session.info")
    renewed = c.session.renew(sid)
    check(renewed["ID"] == sid, "session.renew")
    check(c.kv.put("locks/leader", "me", release=sid) is True, "release")
    check(c.kv.put("locks/leader", "them", acquire=other) is True, "acquire after release")
    c.session.destroy(other)
    _, item = c.kv.get("locks/leader")
    check(item.get("Session") is None, "destroying the session releases the lock")
    _, sessions = c.session.list()
    check([s["ID"] for s in sessions] == [sid], "session.list")

    # transactions and events
    r = c.txn.put([{"KV": {"Verb": "set", "Key": "txn/a", "Value": "YQ=="}}])
    check(r["Errors"] is None, "txn set")
    ev = c.event.fire("deploy", body="v2")
    _, events = c.event.list(name="deploy")
    check(events and events[-1]["ID"] == ev["ID"], "event fire/list")

    # cleanup the way python-consul's fixtures do
    c.agent.service.deregister("foo1")
    _, nodes = c.health.service("foo")
    check(nodes == [], "deregistered")
    c.kv.delete("", recurse=True)
    _, keys = c.kv.get("", keys=True)
    check(keys in (None, []), "kv delete recurse from the root")
    print("all py-consul scenarios passed")


if __name__ == "__main__":
    main()
