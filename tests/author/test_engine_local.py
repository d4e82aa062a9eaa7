"""The authoring engine on the builtin model: streamed drafts reproduce from their stored
parameters and seed, the stream equals the saved text, a cancel stops mid-draft, and a directed
revision is accepted into the dataset without its instruction."""

import pytest

from expertune.author import dataset, drafting, sessions
from expertune.author.backends import backend_spec, open_backend
from expertune.llm.base import GenParams
from expertune.store.tables import PromptGroup

pytestmark = pytest.mark.integration

BUILTIN = "builtin:smollm2-135m-instruct"


@pytest.fixture(scope="module")
def model():
    return open_backend(backend_spec(BUILTIN))


def test_local_drafts_stream_reproduce_and_cancel(ws, model):
    sid = sessions.create_session(ws, backend=backend_spec(BUILTIN), topic="Contracts",
                                  system="Answer in one sentence.", params={"max_new_tokens": 16})
    u = sessions.add_user_turn(ws, sid, "What is an offer?")
    plan = drafting.plan_drafts(ws, u, temperatures=[0.8], seed=11)[0]
    pieces: list[str] = []
    d = drafting.run(ws, plan, model, on_text=pieces.append)
    with ws.session() as db:
        t = sessions.get_turn(db, d)
        assert t.seed == 11 and t.params["temperature"] == 0.8 and t.model == model.id
        assert "".join(pieces).strip() == t.text.strip() and t.text
    # the stored parameters and seed write the same draft again
    again = drafting.plan_drafts(ws, u, temperatures=[0.8], seed=11)[0]
    assert again.params == GenParams(**t.params)
    d2 = drafting.run(ws, again, model)
    with ws.session() as db:
        assert sessions.get_turn(db, d2).text == t.text

    pending = drafting.start(ws, drafting.plan_drafts(ws, u, temperatures=[0.0])[0], model)
    for n, _ in enumerate(pending.stream, 1):
        if n == 2:
            pending.cancel()
    cancelled = pending.save()
    with ws.session() as db:
        c = sessions.get_turn(db, cancelled)
        assert c.status == "cancelled" and c.finish_reason == "cancelled" and c.params["max_new_tokens"] == 16
        assert len(model.chat.tokenizer(c.text)["input_ids"]) < 16

    r = drafting.run(ws, drafting.plan_direct(ws, d, "shorter"), model)
    out = dataset.accept(ws, r)
    with ws.session() as db:
        group = db.get(PromptGroup, out["group_id"])
        assert group.prompt == "What is an offer?" and group.system == "Answer in one sentence."
        assert [resp.text for resp in group.responses] == [sessions.get_turn(db, r).text]
