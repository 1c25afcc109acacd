"""Fuzz the matrix checker on the example matrix model files: fuzz_check.py's generators
write the inputs (with some of elman's names swapped for the model's own), and every input
must come back as verdicts within 30 s.

    python bench/fuzz_check_models.py SEED INPUTS      # e.g. 1 800: about a minute
"""
import random
import signal
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
import fuzz_check as fc  # noqa: E402

from bptt_sym.check.matrix import check_matrix  # noqa: E402
from bptt_sym.model.load import load_model  # noqa: E402

specs = {n: load_model(ROOT / "docs" / "examples" / "models" / f"{n}.toml")
         for n in ("rnn-rows", "elman-last", "gru-matrix", "lstm-matrix")}
names = {  # names each model knows, swapped in for elman's
    "rnn-rows": ["W_x", "W_h", "b", "a_t", "h_t", "h_{t-1}", "x_t", "y_t", "delta_t",
                 "delta_{t+1}", "E_t"],
    "elman-last": ["U", "W", "V", "z_t", "s_t", "s_{T-1}", "yhat", "y", "l", "delta_t"],
    "gru-matrix": ["Ur", "Uz", "Un", "r_t", "z_t", "n_t", "h_t", "h_{t-1}", "dh_t",
                   "dh_{t+1}"],
    "lstm-matrix": ["Uf", "Ui", "f_t", "i_t", "g_t", "o_t", "c_t", "c_{t-1}", "dc_t", "dh_t",
                    "h_t"],
}
class Hang(Exception):
    pass


def alarm(*_: object) -> None:
    raise Hang()



signal.signal(signal.SIGALRM, alarm)
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
n = int(sys.argv[2]) if len(sys.argv) > 2 else 800
rng = random.Random(seed)
gens = list(fc.GENERATORS)
bad = 0
counts: dict[str, int] = {}
t0 = time.time()
for i in range(n):
    model = rng.choice(list(specs))
    gen = rng.choice(gens)
    text = fc.GENERATORS[gen](rng, fc.CONFIGS["elman"])
    # swap some elman names for the model's own
    for old in ("W", "U", "V", "s_t", "z_t", "delta_t", "yhat_t", "x_t"):
        if rng.random() < 0.5 and old in text:
            text = text.replace(old, rng.choice(names[model]), 1)
    signal.alarm(30)
    try:
        vs = check_matrix(text, spec=specs[model], steps=rng.choice([1, 2, 3]), seed=i)
        for v in vs:
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
    except Hang:
        print("HANG", i, model, repr(text)[:300])
        bad += 1
    except Exception:  # noqa: BLE001 - a finding
        print("CRASH", i, model, gen, repr(text)[:500])
        traceback.print_exc()
        bad += 1
    finally:
        signal.alarm(0)
print(n, "inputs", round(time.time() - t0), "s", counts, "findings", bad)
sys.exit(1 if bad else 0)
