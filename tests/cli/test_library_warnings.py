"""The CLI shows expertune's messages, not the deprecation notices of the libraries it runs on."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys, warnings
    from expertune.cli.app import main

    sys.argv = ["expertune", "models", "list"]
    try:
        main()
    except SystemExit:
        pass
    import transformers  # imported after start-up, as the commands that need it do

    transformers.utils.logging.get_logger("transformers.generation.utils").warning_once(
        "`past_key_values` is deprecated; use `cache`")

    def library_function():  # transformers warns with stacklevel=2: attributed to the caller, our code
        warnings.warn("`past_key_values` will be removed in v6", FutureWarning, stacklevel=2)

    library_function()
    warnings.warn_explicit("torch: TypedStorage is deprecated", UserWarning, "torch/storage.py", 1, module="torch.storage")
    warnings.warn_explicit("expertune: 3 answers were cut at max_new_tokens", UserWarning, "x.py", 1,
                           module="expertune.evaluate.pairwise.generation")
""")


def test_library_warnings_are_hidden_and_ours_are_shown():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "past_key_values" not in proc.stderr and "TypedStorage" not in proc.stderr, proc.stderr
    assert "expertune: 3 answers were cut at max_new_tokens" in proc.stderr
