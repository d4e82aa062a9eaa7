import pytest

from curate_helpers import build, record, set_checks
from expertune.curate import run_checks
from expertune.curate.config import load_checks_config, parse_checks_config
from expertune.errors import ConfigError


def test_defaults_and_overrides_from_expertune_yaml(ws):
    cfg = load_checks_config(ws)
    assert cfg.for_check("near-duplicates").threshold == 0.8 and cfg.length.max_length == 2048
    ws = set_checks(ws, {"near-duplicates": {"threshold": 0.9}, "contamination": {"ngram": 10}})
    cfg = load_checks_config(ws)
    assert cfg.for_check("near-duplicates").threshold == 0.9 and cfg.contamination.ngram == 10


@pytest.mark.parametrize("raw,where", [
    ({"near-duplicates": {"treshold": 0.9}}, "checks.near-duplicates.treshold: unknown key; known: threshold"),
    ({"lenght": {}}, "checks.lenght: unknown key"),
    ({"length": {"max_length": "long"}}, "checks.length.max_length"),
    ({"pii": {"kinds": ["EMAIL", "SHOE_SIZE"]}}, "checks.pii.kinds"),
    ({"artefacts": {"truncated": "sometimes"}}, "checks.artefacts.truncated"),
])
def test_bad_settings_name_the_key(raw, where):
    with pytest.raises(ConfigError) as err:
        parse_checks_config(raw, "expertune.yaml")
    assert where in str(err.value) and "expertune.yaml" in str(err.value)


def test_a_bad_setting_stops_the_run_before_any_check(ws):
    build(ws, [record("Q?", "A.")])
    ws = set_checks(ws, {"duplicates": {"min_words": 0}})
    with pytest.raises(ConfigError, match="checks.duplicates.min_words"):
        run_checks(ws, only=["balance"])


def test_unknown_check_names_are_user_errors(ws):
    from expertune.errors import InputError

    build(ws, [record("Q?", "A.")])
    with pytest.raises(InputError, match="known checks: duplicates, near-duplicates"):
        run_checks(ws, only="duplicates,typo")
