"""A scripted model for the methods ops: realistic replies routed on the system message's opening."""

from __future__ import annotations

import math
import re

from tests.fake_openai import FakeCall, FakeReply, completion_body


def between(text: str, head: str) -> str:
    """The block after a `--- CODE head ---` marker line, up to the next marker or the closing one."""
    m = re.search(r"--- REC-\w+ " + re.escape(head) + r" ---\n(.*?)\n(?:--- REC-|REC-\w+>>>)", text, re.S)
    return m.group(1) if m else ""


class Model:
    """`model(call) -> FakeReply`. Continuation-looking outputs (ending mid-sentence, repeating the
    prompt's list) are classified `continuation`; outputs containing UNREADABLE get a reply the
    parser refuses once, then a good one."""

    def __call__(self, call: FakeCall) -> FakeReply:
        text = self.reply(call)
        if isinstance(text, tuple):                      # (text, P(yes)): a reply with logprobs
            text, yes = text
            body = completion_body(call.body or {}, text)
            if (call.body or {}).get("logprobs"):
                body["choices"][0]["logprobs"] = {"content": [yes_no_logprobs(text, yes)]}
            return FakeReply(200, body)
        return FakeReply(200, completion_body(call.body or {}, text))

    def reply(self, call: FakeCall) -> str:
        msgs = call.messages
        system = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else ""
        if system.startswith("You sort model outputs by their form"):
            return self.ifs(call)
        if msgs and msgs[0]["content"].startswith("You are an evaluator that answers a yes/no question"):
            return self.unieval(call)
        if system.startswith("You judge teaching material."):
            text = between(msgs_user(call), "text")
            return "low\nMostly settings with nothing explained." if "TODO" in text or "config" in text \
                else "high\nIt explains the idea step by step with an example."
        if msgs_user(call).startswith("<example>"):
            return lamini_list(msgs_user(call))
        if msgs_user(call).startswith("We are writing a varied collection of"):
            return attr_values(msgs_user(call))
        if msgs_user(call).startswith("Write a news article in the category"):
            label = re.search(r'category "([^"]+)"', msgs_user(call)).group(1)
            reqs = re.findall(r"^\d+\. [^:]+: (.*)$", msgs_user(call), re.M)
            return f"Local reporters covered {label.lower()} today ({'; '.join(reqs)}). Officials expect more soon."
        if msgs_user(call).startswith("请构思一个编号列表"):
            return zh_task_list(msgs_user(call))
        if msgs_user(call).startswith("请写出"):
            return belle_list(msgs_user(call))
        # anything else is a request to answer (the `respond` stage)
        return ("Here is a step-by-step explanation. First, state the idea in one sentence; then work "
                "through a small example and check the result.")

    def unieval(self, call: FakeCall):
        """P(yes) by dimension; garbled responses score low; NOLOGPROBS answers in words only."""
        prompt = call.messages[0]["content"]
        response = between(prompt, "response")
        dim = next(k for k in UNIEVAL if f"Is this a{'n' if k[0] == 'u' else ''} {k} response" in prompt)
        if "UNREADABLE" in response and len(call.messages) == 1:
            return "Maybe, it depends."
        if "NOLOGPROBS" in response:
            return "Yes."
        yes = UNIEVAL[dim][1 if "garbled" in response else 0]
        return ("Yes" if yes >= 0.5 else "No"), yes

    def ifs(self, call: FakeCall) -> str:
        output = between(msgs_user(call), "output")
        if "UNREADABLE" in output and len(call.messages) == 2:
            return "It is an answer, I believe."
        if output.rstrip().endswith((",", " and", " the")) or output.lstrip().startswith(("2.", "Question 2")):
            return "continuation\nThe output carries on the prompt's own text."
        return "**Answer**\nIt replies to the request directly."


UNIEVAL = {"natural": (0.8, 0.2), "coherent": (0.6, 0.3), "understandable": (0.9, 0.25)}


def yes_no_logprobs(text: str, yes: float) -> dict:
    first = text.split()[0]
    alts = [{"token": "Yes", "logprob": math.log(yes)}, {"token": "No", "logprob": math.log(1 - yes)},
            {"token": " yes", "logprob": math.log(1e-4)}]
    return {"token": first, "logprob": math.log(yes if first == "Yes" else 1 - yes), "top_logprobs": alts}


def msgs_user(call: FakeCall) -> str:
    return next(m["content"] for m in call.messages if m["role"] == "user")


TOPICS = ["长城", "熊猫", "茶叶", "高铁", "春节", "书法", "京剧", "稻田", "丝绸", "瓷器", "黄河", "故宫", "饺子",
          "围棋", "太极", "剪纸", "灯笼", "竹子", "桂林", "敦煌", "昆曲", "徽州", "苏绣", "泰山", "西湖", "火锅",
          "青藏", "漓江", "秦腔", "景德"]
FORMS = ["请用三句话介绍{t}的历史。", "{t}为什么在中国文化里很重要？", "为一次关于{t}的讲座写一个开场白。",
         "列出与{t}有关的五个常见问题。", "把下面这段关于{t}的话改写得更正式。", "根据下面的材料，总结{t}的特点。"]


def belle_list(prompt: str) -> str:
    """Tasks 4..N in BELLE's blocks; the topic comes from the seeds shown, so requests differ. Includes a
    task about a picture (blacklist), one addressing the GPT model (phrase cut), a 3-character one, and
    an over-long instruction with an input; one block uses full-width colons."""
    total = int(re.search(r"请写出(\d+)条", prompt).group(1))
    k = sum(map(ord, prompt)) % len(TOPICS)
    blocks = []
    for n in range(4, total + 1):
        t = TOPICS[(k + n * 7) % len(TOPICS)] + TOPICS[(k + n * 3) % len(TOPICS)]
        inst, extra, out = FORMS[n % len(FORMS)].format(t=t), "<无输入>", f"关于{t}的回答：这是一个清楚、具体的例子。"
        if n % len(FORMS) in (4, 5):
            extra = f"{t}是一个值得了解的话题，它和很多人的生活有关。"
        if n == 5:
            inst = f"请描述这张关于{t}的图片。"
        elif n == 6:
            inst = f"请GPT模型解释{t}的由来。"
        elif n == 7:
            inst = "翻译"
        elif n == 8:
            inst, extra = "请" + "仔细" * 50 + f"分析{t}。", "一段材料"
        colon = "：" if n == 9 else ":"
        blocks.append(f"###\n{n}. 指令{colon} {inst}\n{n}. 输入{colon}\n{extra}\n{n}. 输出{colon}\n{out}")
    return "\n".join(blocks)


NOUNS = ["volcanoes", "tax returns", "sourdough", "chess openings", "jet lag", "compost", "sonnets", "budgets",
         "glaciers", "job interviews", "fermentation", "bird migration", "solar panels", "first aid", "haiku",
         "mortgages", "origami", "sleep cycles", "coral reefs", "public speaking", "bicycles", "vaccines",
         "knitting", "recycling", "meteor showers", "negotiation", "tea ceremonies", "bonsai", "marathons", "fonts"]
SHAPES = ["Explain how {a} relate to {b} in plain words.", "Write a short poem that mentions {a} and {b}.",
          "What would change if {a} worked like {b}?", "Give three practical tips about {a} for someone into {b}.",
          "Compare {a} with {b} in a small table.", "Draft an email inviting a friend to learn about {a}."]


def lamini_list(prompt: str) -> str:
    """20 examples; #1 repeats a shown example, #2 is two words, the last lacks its closing label."""
    shown = re.findall(r"<example>(.*?)</example>", prompt)
    k = sum(map(ord, prompt))
    topic = re.search(r'about one of these topics: "([^"]+)"', prompt)
    items = [shown[0], "Why bother?"]
    for n in range(2, 20):
        a, b = NOUNS[(k + n * 7) % len(NOUNS)], NOUNS[(k * 3 + n * 11) % len(NOUNS)]
        if topic and n % 2:
            b = topic.group(1)
        items.append(SHAPES[(k + n) % len(SHAPES)].format(a=a, b=b))
    return "\n".join(f"<example>{t}</example>" for t in items[:-1]) + f"\n<example>{items[-1]}"


def attr_values(prompt: str) -> str:
    """A numbered list; every class's subtopics share "General trends" (ambiguous); "mood" gets prose."""
    attr = re.search(r'attribute "([^"]+)"', prompt).group(1)
    label = re.search(r'in the category "([^"]+)"', prompt)
    if attr == "mood":
        return "Moods are hard to list, sorry."
    n = int(re.search(r"List (\d+) different", prompt).group(1))
    if label:
        vals = [f"{label.group(1)} {w}" for w in ("policy", "funding", "records", "people", "events")][:n - 1]
        vals.append("General trends")
    else:
        vals = [f"{attr} option {i}" for i in range(1, n + 1)]
    return "\n".join(f"{i}. {v}" for i, v in enumerate(vals, 1))


def zh_task_list(prompt: str) -> str:
    """Tasks next..last in Chinese: one about a picture, one addressing the GPT model, one of 2 characters."""
    first, last = map(int, re.search(r"编号从(\d+)到(\d+)", prompt).groups())
    k = sum(map(ord, prompt))
    out = []
    for n in range(first, last + 1):
        t = TOPICS[(k + n * 7) % len(TOPICS)] + "和" + TOPICS[(k * 5 + n * 3) % len(TOPICS)]
        task = FORMS[(k + n) % len(FORMS)].format(t=t)
        if n == first:
            task = f"描述一张{t}的照片。"
        elif n == first + 1:
            task = f"请GPT模型比较{t}的异同。"
        elif n == first + 2:
            task = "翻译"
        out.append(f"{n}. {task}")
    return "\n".join(out)
