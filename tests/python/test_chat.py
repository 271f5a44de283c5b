"""Chat rendering: lockstep's ls_chat_render against the official Jinja chat templates
rendered by jinja2 (the way transformers' apply_chat_template does: trim_blocks,
lstrip_blocks). The template texts below are those published with the models'
tokenizer_config.json (Gemma 3 -it, Meta-Llama-3-8B-Instruct, Llama-2-chat) and the
generic ChatML one. BOS is left to the tokenizer in lockstep, so the Jinja text's leading
bos_token is removed before comparing (Llama 2's "<s>" before later turns stays)."""
import os
import subprocess
import tempfile

import jinja2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GEMMA3 = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\\n'}}
{%- endif -%}
"""

LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}"
          "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
          "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
          "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
          "{% endif %}")

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\\n' }}{% endif %}")

LLAMA2 = ("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
          "{% set system_message = messages[0]['content'] %}{% else %}"
          "{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
          "{% for message in loop_messages %}{% if (message['role'] == 'user') != "
          "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
          "user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and "
          "system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
          "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = "
          "message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
          "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
          "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + "
          "eos_token }}{% endif %}{% endfor %}")

TEMPLATES = {"gemma": GEMMA3, "llama3": LLAMA3, "chatml": CHATML, "llama2": LLAMA2}

DRIVER = r"""
#include "text/chat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* argv: template-file add_start role content role content ... ; prints the rendering */
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    static char text[65536];
    size_t length = fread(text, 1, sizeof text, f);
    fclose(f);
    ls_chat_format format = ls_chat_detect(text, length);
    int n = (argc - 3) / 2;
    ls_chat_message *m = calloc((size_t)n + 1, sizeof *m);
    for (int i = 0; i < n; i++) { m[i].role = argv[3 + 2 * i]; m[i].content = argv[4 + 2 * i]; }
    size_t need = ls_chat_render(format, m, n, argv[2][0] == '1', NULL, 0);
    char *out = malloc(need + 1);
    size_t again = ls_chat_render(format, m, n, argv[2][0] == '1', out, need + 1);
    if (again != need || strlen(out) != need) return 3;
    fprintf(stdout, "%s|", ls_chat_format_name(format));
    fwrite(out, 1, need, stdout);
    return 0;
}
"""

CONVERSATIONS = [
    [("user", "Hello")],
    [("system", "You are terse."), ("user", "  What is 2+2?\n"), ("assistant", " 4 "),
     ("user", "And 3+3?")],
    [("user", "line one\nline two\t"), ("assistant", "ok\n\n"), ("user", "\tbye")],
    [("system", "  Sys with spaces  "), ("user", "x")],
    [("user", "unicode: héllo — 日本語"), ("assistant", "ünïcödé")],
    [("system", "S"), ("user", "   ")],
]

_binary = []


def build_driver():
    if _binary:
        return _binary[0]
    tmp = tempfile.mkdtemp(prefix="lockstep_chat_")
    source = os.path.join(tmp, "driver.c")
    with open(source, "w") as f:
        f.write(DRIVER)
    exe = os.path.join(tmp, "driver")
    subprocess.run(["gcc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-Wall", "-Wextra", "-Werror",
                    "-I" + os.path.join(ROOT, "src"), source,
                    os.path.join(ROOT, "src", "text", "chat.c"), "-o", exe], check=True)
    _binary.append((tmp, exe))
    return _binary[0]


def render_lockstep(template, messages, add_start):
    tmp, exe = build_driver()
    path = os.path.join(tmp, "template.jinja")
    with open(path, "w") as f:
        f.write(template)
    args = [exe, path, "1" if add_start else "0"]
    for role, content in messages:
        args += [role, content]
    r = subprocess.run(args, capture_output=True, check=True)
    name, _, text = r.stdout.decode("utf-8").partition("|")
    return name, text


BOS = {"gemma": "<bos>", "llama3": "<|begin_of_text|>", "chatml": "", "llama2": "<s>"}


def render_jinja(template, messages, add_start, bos):
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(
        messages=[{"role": r, "content": c} for r, c in messages],
        add_generation_prompt=add_start, bos_token=bos, eos_token="</s>")


def check_family(name, template):
    compared = 0
    for messages in CONVERSATIONS:
        for add_start in (False, True):
            want = render_jinja(template, messages, add_start, BOS[name])
            # the leading BOS is the tokenizer's job in lockstep; Llama 2's later ones stay
            assert want.startswith(BOS[name])
            want = want[len(BOS[name]):]
            got_name, got = render_lockstep(template, messages, add_start)
            assert got_name == name, f"detected {got_name}, expected {name}"
            assert got == want, f"{name} add_start={add_start} {messages!r}:\n got {got!r}\nwant {want!r}"
            compared += 1
    assert compared == 2 * len(CONVERSATIONS)


def test_gemma3_matches_jinja():
    check_family("gemma", GEMMA3)


def test_llama3_matches_jinja():
    check_family("llama3", LLAMA3)


def test_chatml_matches_jinja():
    check_family("chatml", CHATML)


def test_llama2_matches_jinja():
    check_family("llama2", LLAMA2)
