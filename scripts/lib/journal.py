"""Writes a release journal of N entries shaped like the ones a run writes (flag
confirmations and promotes with their metric values), a minute of engine time apart and
ending an hour before now, for the measuring scripts.

Usage: python3 scripts/lib/journal.py PATH N
"""
import datetime, json, random, sys
path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
steps = ["Internal", "Beta", "Gradual 25%", "Gradual 50%", "Full"]
start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=n + 60)
with open(path, "w") as out:
    for i in range(n):
        at = (start + datetime.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        step = steps[i % len(steps)]
        values = {
            "cpu": rng.uniform(0.35, 0.45),
            "error_rate": rng.uniform(0.0008, 0.0013),
            "memory": rng.uniform(0.58, 0.62),
            "p95": rng.uniform(0.28, 0.32),
        }
        if i % 2:
            entry = {"at": at, "operator": "shipdeck", "kind": "note", "action": "flag",
                     "reason": f"confirmed: on {i % 101}% +[internal, beta-testers]",
                     "step": step, "values": values}
        else:
            entry = {"at": at, "operator": "shipdeck", "kind": "decision", "action": "promote",
                     "reason": f"→ {step} after the previous step baked 1h on healthy data",
                     "step": step, "values": values}
        out.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
