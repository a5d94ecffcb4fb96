"""Session 39: the language model's circuit breaker, its logic alone (`ModelBreaker`, pure:
`now` is passed in). Before it, a model that was down or slow made every unsure chat
message wait its full timeout (up to 1.5 s) for as long as the outage lasted. The breaker
against a real local server: tests/integration/test_llm_breaker_e2e_s39.py."""

from __future__ import annotations

from dispatcher.api.llm_classifier import ModelBreaker

COOL_OFF = 30.0


def opened_after_three_failures() -> ModelBreaker:
    breaker = ModelBreaker(3, COOL_OFF)
    for at in (1.0, 2.0):
        assert breaker.admit(at) == "call"
        assert breaker.failed(at) is False  # not yet
    assert breaker.admit(3.0) == "call"
    assert breaker.failed(3.0) is True  # the third in a row opens it
    return breaker


def test_n_failures_in_a_row_open_it_and_the_model_is_skipped_for_the_cool_off() -> None:
    breaker = opened_after_three_failures()
    assert breaker.admit(3.0) == "skip"
    assert breaker.admit(3.0 + COOL_OFF - 0.001) == "skip"


def test_after_the_cool_off_one_probe_goes_and_an_answer_closes_it() -> None:
    breaker = opened_after_three_failures()
    assert breaker.admit(3.0 + COOL_OFF) == "probe"
    assert breaker.admit(3.0 + COOL_OFF) == "skip"  # one probe at a time: the others skip
    assert breaker.answered(40.0) is True  # closed
    assert breaker.admit(40.0) == "call"
    assert breaker.answered(40.0) is False  # already closed: no second "closed"


def test_a_failed_probe_opens_it_for_another_cool_off_without_a_second_opening() -> None:
    breaker = opened_after_three_failures()
    assert breaker.admit(50.0) == "probe"
    assert breaker.failed(50.0) is False  # still open: not a new opening (logged once)
    assert breaker.admit(50.0 + COOL_OFF - 0.001) == "skip"
    assert breaker.admit(50.0 + COOL_OFF) == "probe"


def test_an_answer_between_failures_starts_the_count_again() -> None:
    breaker = ModelBreaker(3, COOL_OFF)
    for failed in (True, True, False, True, True):
        assert breaker.admit(1.0) == "call"
        assert (breaker.failed(1.0) if failed else breaker.answered(1.0)) is False
    assert breaker.admit(1.0) == "call"  # two in a row since the answer


def test_a_cancelled_probe_frees_its_slot_and_a_cancelled_call_does_not() -> None:
    breaker = opened_after_three_failures()
    assert breaker.admit(40.0) == "probe"
    breaker.abandoned("call")  # a straggler from before it opened: the probe still flies
    assert breaker.admit(40.0) == "skip"
    breaker.abandoned("probe")  # the probe's client went away: never stuck open
    assert breaker.admit(40.0) == "probe"


def test_a_stragglers_answer_while_open_closes_it() -> None:
    """A call made before it opened answers late: the model is back."""
    breaker = opened_after_three_failures()
    assert breaker.answered(4.0) is True
    assert breaker.admit(4.0) == "call"
