"""Chat backends behind one small interface (llm/base.py): local transformers, OpenAI-compatible HTTP."""

import os

# How torch's OpenMP threads wait between parallel regions; read when torch is first imported,
# which the entry points do after this. A decode step runs ~400 small parallel regions back to back:
# threads that sleep at once (OMP_WAIT_POLICY=PASSIVE) pay a wake-up in each, a quarter of the step
# on a 2-core CPU; threads that spin long (libgomp's default, or ACTIVE) make two busy processes on the
# same cores 4x slower each (10-30x seen before). A short spin keeps both cases, measured on 2 cores:
# the generation bench (32 prompts x 128 tokens) 37.1 and 44.5 s vs 50.7 and 55.5 s passive; two
# processes generating at once (16 x 48 each) 20.7-21.8 s each vs 18.9-21.2 s passive, where spins
# of 30,000 took 54 s and 100,000 81 s. libgomp counts GOMP_SPINCOUNT in pause
# instructions; Intel's OpenMP (some torch builds) has only millisecond block times, so it waits
# passively as before. A user's own settings win.
os.environ.setdefault("GOMP_SPINCOUNT", "5000")
os.environ.setdefault("KMP_BLOCKTIME", "0")
