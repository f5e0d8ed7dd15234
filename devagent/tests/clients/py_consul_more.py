"""py-consul against the newer devagent endpoints: prepared queries, config
entries, the Connect CA, coordinates, operator and snapshots.

Usage: python3 py_consul_more.py HOST PORT
"""
import sys

import consul


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    c = consul.Consul(host=host, port=port)

    c.agent.service.register("redis", service_id="redis1", address="10.0.0.1", port=6379,
                             check=consul.Check.ttl("60s"))
    c.agent.check.ttl_pass("service:redis1")

    q = c.query.create("redis", name="redis-q", onlypassing=True, tags=[], ttl=10)
    qid = q["ID"]
    check(c.query.get(qid)[0]["Name"] == "redis-q", "query.get")
    check(len(c.query.list()) == 1, "query.list")
    res = c.query.execute("redis-q")
    check(len(res["Nodes"]) == 1 and res["Nodes"][0]["Service"]["Port"] == 6379, "query.execute")
    check(c.query.explain("redis-q")["Query"]["Service"]["Service"] == "redis", "query.explain")

    check(c.config.set("service-defaults", "redis", {"Protocol": "tcp"}) is True, "config.set")
    entry = c.config.get("service-defaults", "redis")
    check(entry["Protocol"] == "tcp", "config.get")
    check(len(c.config.list("service-defaults")) == 1, "config.list")

    roots = c.connect.ca.roots()
    check(roots["ActiveRootID"] and "BEGIN CERTIFICATE" in roots["Roots"][0]["RootCert"],
          "connect.ca.roots")

    _, nodes = c.coordinate.nodes()
    check(len(nodes) >= 1 and len(nodes[0]["Coord"]["Vec"]) == 8, "coordinate.nodes")

    raft = c.operator.raft_config()
    check(raft["Servers"][0]["Leader"] is True, "operator.raft_config")
    check(c.operator.autopilot_health()["Healthy"] is True, "operator.autopilot_health")

    data = c.snapshot.save()
    check(len(data) > 0, "snapshot.save")
    c.kv.put("after", "1")
    check(c.snapshot.restore(data) is True, "snapshot.restore")
    _, gone = c.kv.get("after")
    check(gone is None, "restore brings back the saved state")

    check(c.config.delete("service-defaults", "redis") is True, "config.delete")
    c.query.delete(qid)
    check(c.query.list() == [], "query.delete")
    print("all py-consul scenarios of the newer endpoints passed")


if __name__ == "__main__":
    main()
