"""Chat backends behind one small interface (llm/base.py): local transformers, OpenAI-compatible HTTP."""

import os

# OpenMP threads that spin while waiting make torch on a shared CPU (another process busy on the
# same cores) 10-30x slower in generation; passive waiting costs little when the cores are free.
# It must be set before torch is first imported, which the evaluation entry points do after this.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
