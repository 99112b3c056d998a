"""What command a container really runs: Docker's CMD and ENTRYPOINT rules, as pure functions.

    ep = Instruction.parse('["ping"]')                 # exec form (a JSON list of strings)
    cmd = Instruction.parse('["-c", "3", "127.0.0.1"]')
    resolve(ep, cmd).argv                                # ('ping', '-c', '3', '127.0.0.1')
    resolve(ep, cmd, run_args=["127.0.0.1"]).argv        # ('ping', '127.0.0.1'): args replace CMD

The rules (Dockerfile reference, "Understand how CMD and ENTRYPOINT interact"; docker run
reference, "--entrypoint"), each checked against a live engine by the course's tests:

1. Shell form is wrapped: `CMD ping -c 3 x` is stored as `["/bin/sh", "-c", "ping -c 3 x"]`
   (the default SHELL on Linux). Exec form is stored as written.
2. The engine runs ENTRYPOINT + CMD, concatenated. Without ENTRYPOINT, CMD is the command.
3. `docker run IMAGE ARGS...`: the arguments replace CMD as a whole (never ENTRYPOINT).
4. A shell-form ENTRYPOINT still *receives* CMD and run arguments after its script, but the
   shell only sees them as `$0`, `$1`...: the script ignores them. (Docker's table writes
   `/bin/sh -c exec_entry p1_entry`; what really runs has the extra words at the end.)
5. ENTRYPOINT in a Dockerfile resets a CMD inherited from the base image (a CMD written in the
   same Dockerfile, before or after it, stays).
6. `docker run --entrypoint PROG` replaces ENTRYPOINT with the single word PROG (no splitting)
   and drops the image's CMD: only run arguments follow it. `--entrypoint ""` removes the
   entrypoint; the run arguments are then the whole command.
7. When nothing is left, the engine refuses to create the container: "No command specified".

Nothing here imports docker or ipywidgets.
"""

from __future__ import annotations

import enum
import json
import shlex
from dataclasses import dataclass
from typing import Iterable, Sequence

from .errors import LayerlabError
from .i18n import N_, Phrase, _, shown

#: What the classic builder and BuildKit prepend to shell-form CMD/ENTRYPOINT on Linux.
SHELL_PREFIX: tuple[str, ...] = ("/bin/sh", "-c")
#: The engine's words when a container would have no command at all.
NO_COMMAND = "No command specified"
#: Shown when a container's PID 1 ended before the course could read its argv.
PID1_UNREAD = N_("PID 1 ended before it could be read")
QUOTE_EVERY_WORD = N_('Quote every word, numbers too: ["ping", "-c", "3", "127.0.0.1"].')


class InstructionError(LayerlabError):
    """A CMD or ENTRYPOINT value the course cannot read (usually broken JSON)."""


class Form(enum.Enum):
    """How a CMD or ENTRYPOINT instruction is written."""

    NONE = "none"
    EXEC = "exec"
    SHELL = "shell"

    @property
    def label(self) -> str:
        return _({"none": N_("none"), "exec": N_("exec form"), "shell": N_("shell form")}[self.value])


#: The forms in the order the course shows them (the rows and columns of Docker's table).
FORMS: tuple[Form, ...] = (Form.NONE, Form.EXEC, Form.SHELL)

@dataclass(frozen=True)
class Instruction:
    """One CMD or ENTRYPOINT instruction as written in a Dockerfile (or its absence)."""

    form: Form = Form.NONE
    words: tuple[str, ...] = ()  # exec form
    text: str = ""  # shell form

    @classmethod
    def none(cls) -> "Instruction":
        return cls(Form.NONE)

    @classmethod
    def exec_form(cls, words: Iterable[str]) -> "Instruction":
        words = tuple(words)
        if not all(isinstance(w, str) for w in words):
            raise InstructionError(
                _("Exec form must be a list of strings, got {words}.").format(words=repr(list(words))),
                _(QUOTE_EVERY_WORD),
            )
        return cls(Form.EXEC, words=words)

    @classmethod
    def shell_form(cls, text: str) -> "Instruction":
        if not text.strip():
            raise InstructionError(
                _("A shell-form instruction needs a command; this one is empty."),
                _("Write the command (e.g. ping -c 3 127.0.0.1), or choose 'none'."),
            )
        return cls(Form.SHELL, text=text.strip())

    @classmethod
    def parse(cls, value: str | Sequence[str] | None, keyword: str = "CMD") -> "Instruction":
        """Read a value the way Docker reads the rest of a CMD/ENTRYPOINT line.

        A JSON list of strings is exec form; anything else is shell form. Text that starts
        with `[` but is not valid JSON is refused here: Docker would silently run it as a
        shell command (brackets and all), which is never what was meant.
        """
        if value is None:
            return cls.none()
        if not isinstance(value, str):
            return cls.exec_form(value)
        stripped = value.strip()
        if not stripped:
            raise InstructionError(
                _("{keyword} is empty.").format(keyword=keyword),
                _("Give {keyword} a JSON list (exec form) or a command line (shell form).").format(keyword=keyword),
            )
        if stripped.startswith("["):
            try:
                parsed = json.loads(stripped)
            except ValueError as error:
                raise InstructionError(
                    _("{keyword} {value} starts like exec form but is not valid JSON ({problem}, "
                      "column {column}); Docker would run it as a shell command, brackets and all.").format(
                        keyword=keyword, value=stripped, problem=error.msg, column=error.colno),
                    _('Use double quotes and commas: ["ping", "-c", "3", "127.0.0.1"]; or drop the '
                      "brackets for shell form."),
                ) from None
            if not isinstance(parsed, list) or not all(isinstance(w, str) for w in parsed):
                raise InstructionError(
                    _("{keyword} {value} is JSON but not a list of strings; Docker would run it "
                      "as a shell command.").format(keyword=keyword, value=stripped),
                    _(QUOTE_EVERY_WORD),
                )
            return cls.exec_form(parsed)
        return cls.shell_form(stripped)

    def stored(self) -> tuple[str, ...] | None:
        """What the image config stores for this instruction (None: not set)."""
        if self.form is Form.NONE:
            return None
        if self.form is Form.EXEC:
            return self.words
        return SHELL_PREFIX + (self.text,)

    def dockerfile_line(self, keyword: str) -> str | None:
        """The instruction as a Dockerfile line, e.g. `CMD ["ping", "-c", "3"]`."""
        if self.form is Form.NONE:
            return None
        if self.form is Form.EXEC:
            return f"{keyword} {json.dumps(list(self.words))}"
        return f"{keyword} {self.text}"

    def describe(self) -> str:
        if self.form is Form.NONE:
            return _("none")
        if self.form is Form.EXEC:
            return json.dumps(list(self.words))
        return self.text


@dataclass(frozen=True)
class ImageCommand:
    """An image config's Entrypoint and Cmd, as the engine stores them (None: not set)."""

    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None

    @classmethod
    def of(cls, entrypoint: Sequence[str] | None, cmd: Sequence[str] | None) -> "ImageCommand":
        return cls(
            entrypoint=None if entrypoint is None else tuple(entrypoint),
            cmd=None if cmd is None else tuple(cmd),
        )

    def describe(self) -> str:
        def show(value):
            return _("(not set)") if value is None else json.dumps(list(value))

        return f"Entrypoint {show(self.entrypoint)}, Cmd {show(self.cmd)}"


def image_command(
    entrypoint: Instruction = Instruction(),
    cmd: Instruction = Instruction(),
    inherited: ImageCommand = ImageCommand(),
) -> tuple[ImageCommand, tuple[str, ...]]:
    """The Entrypoint and Cmd an image gets from a Dockerfile on a base (`inherited`).

    Returns the config and the notes that say which rule decided it.
    """
    notes: list[Phrase] = []
    new_entrypoint = inherited.entrypoint
    new_cmd = inherited.cmd
    if entrypoint.form is not Form.NONE:
        new_entrypoint = entrypoint.stored()
        if entrypoint.form is Form.SHELL:
            notes.append(Phrase(N_("shell-form ENTRYPOINT is stored as /bin/sh -c '<text>'")))
        if cmd.form is Form.NONE and inherited.cmd:
            new_cmd = None
            notes.append(Phrase(N_("ENTRYPOINT resets the CMD inherited from the base image ({cmd})"),
                              cmd=json.dumps(list(inherited.cmd))))
    elif inherited.entrypoint:
        notes.append(Phrase(N_("ENTRYPOINT {entrypoint} is inherited from the base image"),
                          entrypoint=json.dumps(list(inherited.entrypoint))))
    if cmd.form is not Form.NONE:
        new_cmd = cmd.stored()
        if cmd.form is Form.SHELL:
            notes.append(Phrase(N_("shell-form CMD is stored as /bin/sh -c '<text>'")))
    elif new_cmd and entrypoint.form is Form.NONE:
        notes.append(Phrase(N_("CMD {cmd} is inherited from the base image"), cmd=json.dumps(list(new_cmd))))
    return ImageCommand(new_entrypoint, new_cmd), tuple(notes)


@dataclass(frozen=True)
class Resolution:
    """What the engine runs as PID 1 for one image config and one `docker run`."""

    argv: tuple[str, ...]
    image: ImageCommand
    error: str | None = None
    notes: tuple[str, ...] = ()
    #: Words a shell-form ENTRYPOINT receives after its script and ignores ($0, $1, ...).
    ignored: tuple[str, ...] = ()
    run_args: tuple[str, ...] = ()
    entrypoint_override: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def command_line(self) -> str:
        """The argv as one shell-quoted line (what you would type to run the same)."""
        if not self.ok:
            return _("(error: {error})").format(error=self.error)
        return shlex.join(self.argv)

    @property
    def program(self) -> str | None:
        return self.argv[0] if self.argv else None

    def agrees_with(self, argv: Sequence[str] | None, error: str | None) -> bool:
        """Whether what the engine did is this prediction: the same argv ran as PID 1, or,
        where the rules say the engine refuses, nothing ran and its refusal says the same."""
        if self.ok:
            return argv == self.argv
        return argv is None and bool(error) and self.error.lower() in error.lower()

    def docker_run(self, image: str = "IMAGE") -> str:
        """The `docker run` line this resolution answers, with the course's `--network none`
        (every container the course starts has loopback only, on every engine)."""
        words = ["docker", "run", "--rm", "--network", "none"]
        if self.entrypoint_override is not None:
            words += ["--entrypoint", self.entrypoint_override]
        words.append(image)
        words += list(self.run_args)
        return shlex.join(words)

    def summary(self) -> str:
        lines = [_("image config: {config}").format(config=self.image.describe())]
        if self.ok:
            lines.append(_("PID 1 argv:   {argv}").format(argv=json.dumps(list(self.argv))))
            lines.append(_("command line: {line}").format(line=self.command_line))
        else:
            lines.append(_("the engine refuses to start it: {error}").format(error=self.error))
        lines += [f"  - {shown(note)}" for note in self.notes]
        return "\n".join(lines)


def resolve_image(
    image: ImageCommand,
    run_args: Sequence[str] | None = None,
    entrypoint_override: str | None = None,
) -> Resolution:
    """What runs for an image config and a `docker run [--entrypoint X] IMAGE [ARGS...]`."""
    run_args = tuple(run_args or ())
    notes: list[Phrase] = []
    if entrypoint_override is not None:
        entrypoint = (entrypoint_override,) if entrypoint_override != "" else ()
        cmd = run_args
        if entrypoint_override == "":
            notes.append(Phrase(N_("--entrypoint \"\" removes the image's ENTRYPOINT")))
        else:
            notes.append(Phrase(N_("--entrypoint replaces the image's ENTRYPOINT with the single word {program}"),
                              program=repr(entrypoint_override)))
        if image.cmd and not run_args:
            notes.append(Phrase(N_("--entrypoint also drops the image's CMD {cmd}"), cmd=json.dumps(list(image.cmd))))
        elif run_args:
            notes.append(Phrase(N_("the run arguments follow the new entrypoint")))
    else:
        entrypoint = image.entrypoint or ()
        if run_args:
            cmd = run_args
            if image.cmd:
                notes.append(Phrase(N_("the run arguments replace CMD {cmd} as a whole"), cmd=json.dumps(list(image.cmd))))
            else:
                notes.append(Phrase(N_("the run arguments are the CMD")))
        else:
            cmd = image.cmd or ()
    argv = tuple(entrypoint) + tuple(cmd)
    ignored: tuple[str, ...] = ()
    if entrypoint_override is None and is_shell_wrapped(entrypoint) and cmd:
        ignored = tuple(cmd)
        notes.append(Phrase(
            N_("a shell-form ENTRYPOINT still receives the run arguments ({words}) but its shell sees them only "
               "as $0, $1...: they are ignored") if run_args else
            N_("a shell-form ENTRYPOINT still receives CMD ({words}) but its shell sees them only as $0, $1...: "
               "they are ignored"),
            words=shlex.join(cmd),
        ))
    if entrypoint and cmd and not ignored:
        notes.append(Phrase(N_("the engine runs ENTRYPOINT followed by the run arguments") if run_args
                          else N_("the engine runs ENTRYPOINT followed by CMD")))
    if not argv:
        return Resolution(
            argv=(), image=image, error=NO_COMMAND, notes=tuple(notes) + (
                Phrase(N_("neither ENTRYPOINT nor CMD (nor run arguments) give a command: the engine refuses")),),
            run_args=run_args, entrypoint_override=entrypoint_override,
        )
    return Resolution(
        argv=argv, image=image, notes=tuple(notes), ignored=ignored,
        run_args=run_args, entrypoint_override=entrypoint_override,
    )


def resolve(
    entrypoint: Instruction = Instruction(),
    cmd: Instruction = Instruction(),
    run_args: Sequence[str] | None = None,
    entrypoint_override: str | None = None,
    inherited: ImageCommand = ImageCommand(),
) -> Resolution:
    """The argv the engine runs as PID 1 for a Dockerfile's ENTRYPOINT and CMD on a base.

    `run_args` are the words after the image in `docker run`; `entrypoint_override` is the
    value of `docker run --entrypoint` (a single program name, or "" to remove it).
    """
    image, image_notes = image_command(entrypoint, cmd, inherited)
    result = resolve_image(image, run_args, entrypoint_override)
    return Resolution(
        argv=result.argv, image=image, error=result.error, notes=image_notes + result.notes,
        ignored=result.ignored, run_args=result.run_args, entrypoint_override=entrypoint_override,
    )


def is_no_command(message: str | None) -> bool:
    """True when an engine's refusal is "No command specified" (Docker 26 writes it in lower case)."""
    return bool(message) and NO_COMMAND.lower() in message.lower()


def is_shell_wrapped(words: Sequence[str] | None) -> bool:
    """True when `words` is what shell form produces: /bin/sh -c '<text>'."""
    return bool(words) and len(words) == 3 and tuple(words[:2]) == SHELL_PREFIX


def parse_cmdline(raw: bytes) -> tuple[str, ...]:
    """/proc/PID/cmdline (NUL-separated, NUL-terminated) -> argv."""
    text = raw.decode("utf-8", errors="replace")
    if text.endswith("\0"):
        text = text[:-1]
    return tuple(text.split("\0")) if text else ()


# -- the lesson's images ------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    """One image of the lesson: a name, a title, and its ENTRYPOINT and CMD."""

    name: str
    title: str
    entrypoint: Instruction = Instruction()
    cmd: Instruction = Instruction()
    stop_signal: str | None = None

    def instruction_lines(self) -> list[str]:
        lines = []
        if self.stop_signal:
            lines.append(f"STOPSIGNAL {self.stop_signal}")
        for keyword, instruction in (("ENTRYPOINT", self.entrypoint), ("CMD", self.cmd)):
            line = instruction.dockerfile_line(keyword)
            if line:
                lines.append(line)
        return lines


def seed_variants(target: str = "127.0.0.1") -> tuple[Variant, ...]:
    """The seed's three ping images, pinging `target` (the seed pings 8.8.8.8)."""
    return (
        Variant("ping-cmd", "1: CMD only",
                cmd=Instruction.exec_form(["ping", "-c", "3", target])),
        Variant("ping-entrypoint", "2: ENTRYPOINT only",
                entrypoint=Instruction.exec_form(["ping", "-c", "3", target])),
        Variant("ping-both", "3: ENTRYPOINT + CMD",
                entrypoint=Instruction.exec_form(["ping"]),
                cmd=Instruction.exec_form(["-c", "3", target])),
    )


def render_dockerfile(base_lines: Sequence[str], variant: Variant) -> str:
    """A whole Dockerfile: the base's lines (FROM, RUN...) then the variant's instructions."""
    return "\n".join(list(base_lines) + variant.instruction_lines()) + "\n"


@dataclass(frozen=True)
class PingBasePlan:
    """Which first lines the lesson's Dockerfiles start with, and why."""

    lines: tuple[str, ...]
    reason: str
    needs_network: bool = False


def ping_base_plan(reference: str, source: str, official: str = "alpine:3.20.3") -> PingBasePlan:
    """The seed's base (`alpine` + `apk add iputils`) when it was pulled, else the stand-in."""
    if source == "pulled":
        return PingBasePlan(
            lines=(f"FROM {reference}", "RUN apk add --no-cache iputils"),
            reason=_(
                "A registry answered, so the base is the official {official} (labeled for you as "
                "{reference}) and, as in the seed, iputils' ping is installed on it "
                "(`apk add --no-cache` does what the seed's `apk update && apk add --update iputils "
                "&& rm -rf /var/cache/apk/*` does, in one command)."
            ).format(official=official, reference=reference),
            needs_network=True,
        )
    return PingBasePlan(
        lines=(f"FROM {reference}",),
        reason=_(
            "No registry answers here, so alpine cannot be pulled and `apk add` could not download "
            "anything. The base is the course's local stand-in {reference}: busybox, whose "
            "`ping` applet takes the same -c option. Nothing else needs installing."
        ).format(reference=reference),
    )
