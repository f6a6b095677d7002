"""Scripted replies of the fake OpenAI server for the generation ops: a reply is a pure function
of the request body (so a resumed run gets the same answers), shaped like real model output in
each method's format, with a share of faulty output to exercise every filter.

`reply(call)` dispatches on the prompt; `make_server_reply` wraps it for `FakeOpenAI.reply_fn`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re

from tests.fake_openai import FakeReply, completion_body

WORDS = ("river mountain piano orbit basket violet lantern quartz meadow tundra harbor falcon copper "
         "glacier pepper saddle thunder willow canyon marble orchard velvet compass ember lagoon prism "
         "anchor bramble cedar dune fjord garnet hazel island jasmine kettle ledger mango nectar oyster "
         "pylon quill ripple sapphire timber umber vortex walnut yarrow zephyr acorn beacon cobalt dahlia "
         "estuary fennel geyser heron indigo juniper kelp lichen magnet nutmeg onyx pebble quince raven").split()
VERBS = ("Describe", "Explain", "Compare", "Summarize", "List", "Suggest", "Evaluate", "Outline", "Plan",
         "Rank", "Critique", "Imagine")


def rng_for(body: dict) -> random.Random:
    canon = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return random.Random(hashlib.sha256(canon.encode()).hexdigest())


def task(r: random.Random, verb: str | None = None) -> str:
    return f"{verb or r.choice(VERBS)} the {' '.join(r.sample(WORDS, 6))} for a school project."


def prompt_text(body: dict) -> str:
    if "prompt" in body:
        return body["prompt"]
    return "\n".join(m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user")


def task_list(r: random.Random, text: str, completion: bool) -> tuple[str, str]:
    """A continuation of a Self-Instruct list (with a banned, a short, a program and an echo item)."""
    first = int(re.findall(r"(\d+)\.$", text)[0]) if completion else int(re.search(r"numbered (\d+) to", text)[1])
    examples = re.findall(r"(?m)^\d+\. (.+)$", text)
    items = [task(r) for _ in range(3)] + [task(r, "Classify")]
    items += [r.choice(["Draw a picture of a happy dog in the park.", "Sort these numbers",
                        "Write a program that prints the first ten primes.", examples[0]])]
    r.shuffle(items)
    if r.random() < 0.4:
        items.insert(1, items[0])  # the same task twice in one reply
    finish = "length" if r.random() < 0.25 else "stop"
    if finish == "length":
        items[-1] = items[-1][:15]
    lines = [f"{first + i}. {t}" for i, t in enumerate(items)]
    body = "\n".join(lines)
    return (" " + body[len(f"{first}. "):] if completion else body), finish


def alpaca_list(r: random.Random, text: str, completion: bool) -> tuple[str, str]:
    first = int(re.findall(r"(\d+)\. Instruction:$", text)[0]) if completion else \
        int(re.search(r"with tasks (\d+) to", text)[1])
    blocks = []
    for i in range(first, first + 5):
        extra = r.choice(["<noinput>", " ".join(r.sample(WORDS, 5))])
        output = r.choice(["", "A short answer about " + " ".join(r.sample(WORDS, 3)) + "."]) if i == first + 4 \
            else "A short answer about " + " ".join(r.sample(WORDS, 3)) + "."
        block = f"{i}. Instruction: {task(r)}\n{i}. Input:\n{extra}\n{i}. Output:\n{output}"
        if r.random() < 0.1:
            block = block.replace(f"{i}. Input:", f"{i}. Inputs:")
        blocks.append(block)
    body = "\n###\n".join(blocks)
    if completion:
        body = body[len(f"{first}. Instruction:"):]
    return body, "stop"


def instances(r: random.Random, text: str) -> str:
    if "write down its possible class labels" in text:
        labels = ["Positive", "Negative", "Neutral"]
        return "\n".join(f"Class label: {lab}\nSentence: the {' '.join(r.sample(WORDS, 4))}." for lab in labels)
    n = r.choice([1, 2, 3, 6])
    return "\n".join(f"Example {i}\nInput: the {' '.join(r.sample(WORDS, 3))}\nOutput: "
                     f"{'Same' if i == 4 else ' '.join(r.sample(WORDS, 4))}" for i in range(1, n + 1))


def evolve(r: random.Random, text: str) -> str:
    given = re.search(r"Given Prompt#:\n(.*?)\n\n#", text, re.S)[1]
    roll = r.random()
    if roll < 0.1:
        return "#Rewritten Prompt#: " + given
    if roll < 0.15:
        return given
    return f"{given} Also consider the {' '.join(r.sample(WORDS, 3))}."


def answer(r: random.Random, text: str) -> str:
    roll = r.random()
    if roll < 0.08:
        return "Sorry, I cannot help with that."
    if roll < 0.12:
        return "It is what it is, and that is all."
    return "Here is a detailed answer: " + " ".join(r.sample(WORDS, 12)) + "."


def unnatural(r: random.Random, text: str) -> str:
    if "Rewrite the task below" in text:
        word = r.choice(WORDS)
        return r.choice([f'"Given {{INPUT}}, what would a {word} say?"', f"Please answer the {word} question.",
                         '"Given {INPUT}, what would you say?"'])
    if re.search(r"Constraints: .*\n(Output:|\nCarry out)", text):
        return "Result: " + " ".join(r.sample(WORDS, 4))
    dup = re.search(r"Instruction: (.*)\nInput: (.*)\n", text)
    if r.random() < 0.15:
        return f"Instruction: {dup[1]}\nInput: {dup[2]}\nConstraints: None."
    if r.random() < 0.05:
        return "Instruction: " + task(r)
    return f"Instruction: {task(r)}\nInput: the {' '.join(r.sample(WORDS, 4))}\nConstraints: None."


def reply_text(body: dict) -> tuple[str, str]:
    """(text, finish_reason) for a request body."""
    r, text, completion = rng_for(body), prompt_text(body), "prompt" in body
    if "Brainstorm a numbered list" in text:
        return task_list(r, text, completion)
    if "List of 20 tasks:" in text:
        return alpaca_list(r, text, completion)
    if "Is it classification?" in text:
        last = text.rsplit("Task:", 1)[1]
        return ("Yes" if "Classify" in last else "No"), "stop"
    if "Task:" in text and ("Write example inputs" in text or "write down its possible class labels" in text):
        return instances(r, text), "stop"
    if "Act as a prompt rewriter" in text or "Act as a prompt creator" in text:
        return (evolve(r, text) if "rewriter" in text else task(r, "Invent")), "stop"
    if "Make the programming test question below" in text:
        return text.rsplit("\n\n", 1)[1].strip() + " Handle empty input too.", "stop"
    if "Your verdict" in text:
        return ("Equal" if r.random() < 0.1 else "Not Equal"), "stop"
    if re.search(r"Write \d+ new instructions", text):
        n = int(re.search(r"Write (\d+) new", text)[1])
        return "\n\n".join(f"{i}. {task(r)}" for i in range(1, n + 1)), "stop"
    if "Constraints:" in text or "Rewrite the task below" in text:
        return unnatural(r, text), "stop"
    return answer(r, text), "stop"


def make_server_reply(call) -> FakeReply:
    text, finish = reply_text(call.body or {})
    return FakeReply(200, completion_body(call.body or {}, text, finish_reason=finish))
