"""CAMEL: exact prompts, role/task list parsing, and every termination rule on scripted transcripts."""

from pipeline.chat import camel
from pipeline.chat.camel import Referee, Limits, replay

A, U, T = "Python Programmer", "Stock Trader", "Develop a trading bot for the stock market"

ASSISTANT_SYSTEM = (
    "Always remember that you are a Python Programmer and I am a Stock Trader. Never swap roles with me "
    "and never give me instructions.\n"
    "We have a shared interest in working together to complete a task: Develop a trading bot for the stock market\n"
    "Help me complete it. I will give you one instruction at a time, based on what you know and on what I ask. "
    "For each instruction, write a specific solution that carries it out.\n"
    "If you cannot carry out an instruction for physical, moral, legal or capability reasons, refuse honestly "
    "and say why.\n"
    "Do not add anything other than your solution to my instruction, and do not ask me questions.\n"
    "Write the solution in declarative sentences and the present tense, and make it specific, with details, "
    "examples or implementations where they help.\n"
    "Always begin your answer with:\n\nSolution: <YOUR_SOLUTION>\n\nand always end it with: Next request.")

USER_SYSTEM = (
    "Always remember that you are a Stock Trader and I am a Python Programmer. Never swap roles with me. "
    "You will always give me instructions.\n"
    "We have a shared interest in working together to complete a task: Develop a trading bot for the stock market\n"
    "Your job is to guide me through it with instructions, one at a time, suited to my expertise and to your "
    "needs. You must instruct me in only these two forms:\n\n"
    "1. With some input:\nInstruction: <YOUR_INSTRUCTION>\nInput: <YOUR_INPUT>\n\n"
    "2. Without input:\nInstruction: <YOUR_INSTRUCTION>\nInput: None\n\n"
    "The \"Instruction\" says what to do and the \"Input\" gives context or information for it.\n"
    "Give exactly one instruction per message. I must answer with a solution to it. Give instructions, "
    "do not ask questions.\n"
    "Keep instructing me until you decide the task is complete. When it is, reply with only "
    "<CAMEL_TASK_DONE>, and never say <CAMEL_TASK_DONE> before then.")

START = "Please start giving me instructions, one at a time. Reply only with an Instruction and an Input."


def test_role_and_task_prompts_are_exact():
    assert camel.roles_messages("assistant", 50) == [{"role": "user", "content": (
        "You are a helpful assistant who can take on many roles. List 50 different roles you could play "
        "with expert knowledge, drawn from a wide range of fields. Number them, sort them alphabetically, "
        "and give no explanations.")}]
    assert camel.roles_messages("user", 3) == [{"role": "user", "content": (
        "List 3 common and varied groups of internet users or occupations, each in the singular. Number "
        "them, sort them alphabetically, and give no explanations.")}]
    assert camel.tasks_messages(A, U, 10) == [{"role": "user", "content": (
        "List 10 varied tasks that a Python Programmer could help a Stock Trader accomplish, working on "
        "them together. Number them. Be brief and inventive.")}]


def test_task_specifier_prompt_is_exact():
    assert camel.specify_messages(A, U, T, 50) == [
        {"role": "system", "content": "You turn vague tasks into specific ones."},
        {"role": "user", "content": (
            "A Python Programmer is going to help a Stock Trader with this task: Develop a trading bot for "
            "the stock market\nMake the task more specific. Be imaginative and inventive. Answer with the "
            "specified task only, in at most 50 words.")}]


def test_inception_prompts_are_exact():
    assert camel.system_prompts(A, U, T) == (ASSISTANT_SYSTEM, USER_SYSTEM)


def test_agent_views_mirror_each_other():
    pairs = [("Instruction: install pandas\nInput: None", "Solution: run pip install pandas. Next request.")]
    assert camel.user_agent_messages("US", pairs) == [
        {"role": "system", "content": "US"}, {"role": "user", "content": START},
        {"role": "assistant", "content": pairs[0][0]}, {"role": "user", "content": pairs[0][1]}]
    assert camel.assistant_agent_messages("AS", pairs, "Instruction: next\nInput: None") == [
        {"role": "system", "content": "AS"}, {"role": "user", "content": pairs[0][0]},
        {"role": "assistant", "content": pairs[0][1]},
        {"role": "user", "content": "Instruction: next\nInput: None"}]


def test_parse_roles_strips_numbers_notes_and_duplicates():
    text = ("Here are the roles:\n1. Accountant\n2. **Actor** - performs on stage\n3) Architect: designs\n"
            "4. Actor\n5. Baker\n\nLet me know if you need more.")
    assert camel.parse_roles(text, 50) == ["Accountant", "Actor", "Architect", "Baker"]
    assert camel.parse_roles(text, 2) == ["Accountant", "Actor"]


def test_parse_tasks_needs_exactly_n_items_from_the_line_with_1():
    text = "Sure! Tasks:\n1. Build a backtester.\n2. Scrape prices.\n3. Plot returns.\nGood luck!"
    assert camel.parse_tasks(text, 3) == ["Build a backtester.", "Scrape prices.", "Plot returns."]
    assert camel.parse_tasks(text, 4) is None
    assert camel.parse_tasks("No list here, sorry.", 3) is None


def ins(x: str) -> str:
    return f"Instruction: {x}\nInput: None"


def sol(x: str) -> str:
    return f"Solution: {x}\nNext request."


def test_task_done_stops_before_the_assistant_is_asked():
    pairs = [(ins("a"), sol("a")), (ins("b"), sol("b")), ("<CAMEL_TASK_DONE>", None)]
    assert replay(pairs) == (2, "task_done")


def test_message_cap_counts_both_sides():
    pairs = [(ins(str(i)), sol(str(i))) for i in range(30)]
    assert replay(pairs) == (20, "max_num_messages")
    assert replay(pairs, Limits(max_messages=6)) == (3, "max_num_messages")


def test_user_stops_instructing_three_times_in_a_row():
    chatty = "I think that looks great, what do you suggest next?"
    pairs = [(ins("a"), sol("a")), (chatty, sol("x")), (ins("b"), sol("b")),   # a lapse, then back
             (chatty, sol("y")), (chatty, sol("z")), (chatty, sol("w")), (ins("c"), sol("c"))]
    assert replay(pairs) == (5, "user_no_instruct_threshold")


def test_assistant_giving_instructions_is_a_role_flip():
    pairs = [(ins("a"), sol("a")), (ins("b"), "Instruction: now you write the tests\nInput: None")]
    assert replay(pairs) == (1, "assistant_instruct_threshold")


def test_four_consecutive_farewell_steps():
    bye = [(ins("wrap up"), sol("Thank you, it was a pleasure.")),
           (ins("anything else?"), sol("You're welcome!")),
           (ins("final check"), sol("Goodbye and good luck.")),
           (ins("done?"), sol("Bye!"))]
    pairs = [(ins("a"), sol("a"))] + bye
    consecutive = Limits(repeat_rule="consecutive")
    assert replay(pairs, consecutive) == (4, "repeat_word_threshold")
    broken = [(ins("a"), sol("a")), bye[0], bye[1], (ins("b"), sol("b")), bye[2], bye[3]]
    assert replay(broken, consecutive) == (6, "transcript_end")


def test_language_model_mention_counts_as_repeat_word():
    lm = sol("As an AI language model, I cannot trade for you.")
    pairs = [(ins(str(i)), lm) for i in range(5)]
    assert replay(pairs, Limits(repeat_rule="consecutive")) == (3, "repeat_word_threshold")


def test_reference_repeat_rule_keeps_the_dialogue_the_consecutive_rule_cuts():
    # CAMEL's code counts per word and resets on each absent word, and its `break` leaves only the
    # loop over words: the same farewell-heavy dialogue runs on to the end.
    bye = [(ins("wrap up"), sol("Thank you, it was a pleasure.")),
           (ins("anything else?"), sol("You're welcome!")),
           (ins("final check"), sol("Goodbye and good luck.")),
           (ins("done?"), sol("Bye!")), (ins("e"), sol("e"))]
    pairs = [(ins("a"), sol("a"))] + bye
    assert replay(pairs, Limits(repeat_rule="consecutive")) == (4, "repeat_word_threshold")
    assert replay(pairs) == (6, "transcript_end")
    lm = [(ins(str(i)), sol("As an AI language model, I cannot trade for you.")) for i in range(5)]
    assert replay(lm) == (5, "transcript_end")


def test_reference_counter_fires_without_stopping():
    # "goodbye" holds "bye" and "good bye" is spelled out: four words in a row reach the threshold
    # within one step; CAMEL records the reason and goes on, a later stop overwrites it.
    ref = Referee(Limits())
    end = ref.after_pair(ins("a"), sol("Goodbye, good bye, thank you, bye!"))
    assert end is None and ref.repeat_hits == 1
