"""`lockstep chat`: the template is chosen from the model, replies stream to stdout, and later
turns reuse the KV cache of earlier ones without changing a bit: each greedy reply equals what
`run` gives on the whole conversation rendered by hand (so the template text, the cache reuse
and the tokenization of special tokens all agree). The default model is Gemma 3 270M base,
not instruction-tuned: its replies are not meant to be good answers."""
import subprocess

from common import DEFAULT_MODEL, LOCKSTEP, ROOT, tiny_model

N = "6"  # tokens per reply: short enough to stay on one line


def chat(model, lines, *flags):
    r = subprocess.run([LOCKSTEP, "chat", "-m", model, "--temp", "0", "-n", N, *flags],
                       cwd=ROOT, input="".join(l + "\n" for l in lines).encode(),
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def run(prompt):
    g = subprocess.run([LOCKSTEP, "run", "-m", DEFAULT_MODEL, "-p", prompt, "--temp", "0",
                        "-n", N], cwd=ROOT, capture_output=True, timeout=300)
    assert g.returncode == 0, g.stderr
    out = g.stdout.decode(errors="replace")
    assert out.startswith(prompt)
    return out[len(prompt):].rstrip("\n")


def turn(role, text):
    return f"<start_of_turn>{role}\n{text}<end_of_turn>\n"


def test_chat_gemma_two_turns_equal_run_on_the_rendered_conversation():
    questions = ["What is the capital of France?", "And of Italy?"]
    out, err = chat(DEFAULT_MODEL, questions)
    assert "chat template: gemma" in err, err
    replies = out.split("\n")
    assert len(replies) >= 2 and replies[0].strip() and replies[1].strip(), out
    first = run(turn("user", questions[0]) + "<start_of_turn>model\n")
    assert first == replies[0], (first, replies[0])
    second = run(turn("user", questions[0]) + turn("model", replies[0].strip()) +
                 turn("user", questions[1]) + "<start_of_turn>model\n")
    assert second == replies[1], (second, replies[1])


def test_chat_template_from_vocabulary():
    _, err = chat(tiny_model("llama", "q8_0", vocab="bpe"), ["hello"])
    assert "chat template: llama3" in err, err
    _, err = chat(tiny_model("qwen2", "q8_0", vocab="bpe"), ["hello"])
    assert "chat template: chatml" in err, err
