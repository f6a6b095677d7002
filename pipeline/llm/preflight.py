"""A cheap check of every LLM stage's key and endpoint before a run's first stage starts.

Without it a wrong key or a stopped server shows only once the upstream stages have run (which
may take an hour), and then as a storm of retries. Once per distinct server and key variable:
the key must be there (for OpenAI's endpoint) and `GET /models` must get an answer that is not
401. Any other answer passes: a 404 from a server without `/models`, 5xx and 429 (the stage's
own retry policy deals with them), and 403, since a key restricted to some permissions may not
list models yet may complete. Dry runs send nothing and skip this.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pipeline.errors import LLMError

log = logging.getLogger("pipeline.llm")

ATTEMPTS = 2          # a server still starting gets one second chance
PAUSE = 1.0
MAX_TIMEOUT = 15.0


def stages_to_check(runner: Any, plan: list, forced: set[str]) -> list:
    """The LLM stages of the plan that will run (not done, or forced)."""
    return [st for st in plan if st.op.uses_llm
            and (st.id in forced or not runner.rd.is_done(st.id, runner.fps[st.id]))]


def preflight(runner: Any, plan: list, forced: set[str]) -> None:
    """Raise a `UserError` (one line) when an LLM stage that will run cannot reach its endpoint
    (with a fleet: any of its servers; the ones that do not answer are left out, with a warning)."""
    from pipeline.llm.client import stage_settings
    from pipeline.llm.fleet import server_urls
    from pipeline.llm.secrets import api_key, public_url

    seen: dict[tuple[str, str], tuple[str, str] | None] = {}
    for st in stages_to_check(runner, plan, forced):
        settings = stage_settings(st, runner.opts.llm_overrides)
        urls = server_urls(settings.base_url)
        problems = []
        for base_url in urls:
            key = api_key(settings.api_key_env, base_url)
            ident = (public_url(base_url), settings.api_key_env)
            if ident not in seen:
                seen[ident] = check_endpoint(st.id, settings, base_url, key)
            problems.append(seen[ident])
        judge_fleet(st.id, urls, problems)


def judge_fleet(stage_id: str, urls: list[str], problems: list[tuple[str, str] | None]) -> None:
    """One server: its problem stops the run. A fleet: only when no server answers; those that do
    not are left out of rotation from the start (see fleet.LEFT_OUT)."""
    from pipeline.llm.fleet import LEFT_OUT
    from pipeline.llm.secrets import public_url

    down = [(url, why) for url, why in zip(urls, problems) if why is not None]
    if len(urls) == 1 and down:
        problem, advice = down[0][1]
        raise LLMError(f"[{stage_id}] before the run: {problem}; {advice}")
    if len(down) == len(urls):
        names = ", ".join(public_url(url) for url in urls)
        raise LLMError(f"[{stage_id}] before the run: none of the servers {names} answers (e.g. "
                       f"{down[0][1][0]}); start them or fix base_url")
    for url, (problem, _) in down:
        if public_url(url) not in LEFT_OUT:
            LEFT_OUT[public_url(url)] = time.monotonic()
            log.warning("%s", f"[{stage_id}] before the run: {problem}; the server is left out of rotation "
                              f"for now ({len(urls) - len(down)} of {len(urls)} servers answer)")


def check_endpoint(stage_id: str, settings: Any, base_url: str, key: str) -> tuple[str, str] | None:
    """None when the endpoint answers; else what is wrong and what to do (a refused key raises)."""
    import httpx2
    import openai

    from pipeline.llm.retry import describe
    from pipeline.llm.secrets import install_log_filter, public_url, redact, sdk_url
    from pipeline.llm.transport import fatal_message

    install_log_filter()
    url = public_url(base_url)
    timeout = min(settings.timeout, MAX_TIMEOUT)
    with openai.OpenAI(api_key=key, base_url=sdk_url(base_url), max_retries=0, timeout=timeout) as sdk:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                sdk.get("/models", cast_to=httpx2.Response)  # read raw: any 2xx body will do
                return None
            except openai.APIStatusError as e:
                if e.status_code == 401:
                    message = redact(f"HTTP {e.status_code} on GET /models: {e.message}")
                    raise LLMError(f"[{stage_id}] before the run: "
                                   f"{fatal_message('auth', message, settings, base_url)}") from None
                return None
            except openai.APITimeoutError:
                return (f"the endpoint {url} did not answer GET /models within {timeout:g} s",
                        "check base_url and the server")
            except openai.APIConnectionError as e:
                if attempt == ATTEMPTS:
                    return (redact(f"cannot connect to {url} ({describe(e)})"),
                            "start the server or fix base_url (or $OPENAI_BASE_URL)")
                time.sleep(PAUSE)
    return None
