"""`AnswerWorkers`: the serving process resolves callers itself; answers go to workers.

Answering in a worker process is exercised end to end by `make bench-slack`
(`kam serve` with KAM_SLACK_ANSWER_PROCESSES=1): starting a worker loads the
embedding model, too slow for this suite.
"""

from __future__ import annotations

import pytest
from conftest import ANNA, STRANGER

from bot.answer_workers import AnswerWorkers
from bot.config import Settings
from store.access import UnknownUserError


@pytest.fixture
def workers(slack_sessions, tmp_path):
    settings = Settings(_env_file=None, kam_data_dir=tmp_path / "data")
    workers = AnswerWorkers(settings, slack_sessions, processes=1)
    yield workers
    workers.close()


def test_callers_are_resolved_without_starting_a_worker(workers):
    scope = workers.resolve(slack_user_id=ANNA)

    assert (scope.user_id, scope.role) == ("u_kam_anna", "kam")
    assert not workers.pool._processes  # nothing was spawned


def test_unknown_callers_are_refused_in_the_serving_process(workers):
    with pytest.raises(UnknownUserError):
        workers.resolve(slack_user_id=STRANGER)
