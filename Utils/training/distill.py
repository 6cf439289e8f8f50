"""The machinery every distillation entry script shares: a script declares its method's flags, builder
and run-name rule (``DistillScript``) beside the method, and ``main`` does the rest: parse, load or train
the teacher, build the method, train the student, log.

A method's flags are a :class:`MethodFlags`: the function adding them to the parser, the defaults that
depend on the base model (``{flag: {model: default}}``, BPR-MF's for a model without its own), and the
values derived from other flags after parsing. Each default is read from the method's constructor
(:func:`defaults_of`), so it is declared once.
"""
import inspect
import os
from dataclasses import dataclass, field
from typing import Callable

from Models.method import Combined
from Models.zoo import BASE_MODELS, TEACHER_DIMS
from Utils.errors import InputError
from Utils.training.checkpoint import tensors_fingerprint
from Utils.training.config import common_parser
from Utils.training.experiment import new_student, run, setup, split_key
from Utils.training.protocols import apply_protocol
from Utils.training.run_names import run_name
from Utils.training.teacher import add_teacher_flags, load_or_train_teacher


def defaults_of(method_class):
    """{parameter: default} of a method's constructor: the one place each default is declared; the
    flags read theirs from here."""
    parameters = inspect.signature(method_class.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def positive_flags(a, ints=(), floats=()):
    """InputError naming the first of ``ints`` below 1 or of ``floats`` not above 0."""
    for flag in ints:
        if getattr(a, flag) < 1:
            raise InputError(f"--{flag} must be at least 1, got {getattr(a, flag)}")
    for flag in floats:
        if not getattr(a, flag) > 0:
            raise InputError(f"--{flag} must be positive, got {getattr(a, flag)}")


@dataclass(frozen=True)
class MethodFlags:
    """A method's command-line flags: ``add(parser)``; ``model_defaults`` {flag: {model: default}} for
    flags declared with default None whose default depends on the base model (``bpr``'s for any model
    without its own); ``fill(args)`` sets values derived from other flags after parsing."""
    add: Callable
    model_defaults: dict = field(default_factory=dict)
    fill: Callable = None

    def model_default(self, flag, model):
        by_model = self.model_defaults[flag]
        return by_model.get(model, by_model["bpr"])


def with_de(build_method, build_de):
    """A builder for ``build_method``'s method plus DE's term when ``--with_DE`` is given (DE-RRD's
    construction, for another method in RRD's place)."""
    def build(ctx, teacher, teacher_path):
        method = build_method(ctx, teacher, teacher_path)
        return Combined([build_de(ctx, teacher, teacher_path), method]) if ctx.args.with_DE else method
    return build


def add_with_de_flag(parser):
    parser.add_argument("--with_DE", action="store_true",
                        help="add Distillation Experts (lambda_DE L_DE, its flags) to this method's loss")


WITH_DE = MethodFlags(add_with_de_flag)


@dataclass(frozen=True)
class DistillScript:
    """What a distillation entry script declares: its flags (MethodFlags), its method's builder
    ``build(ctx, teacher, teacher_path) -> Method`` and its run-name rule ``default_name(args)`` ->
    (base run name, flags the base name states); every other flag that differs from its default is
    appended (Utils.training.run_names). The published numbers printed beside a run are its registered
    row's (``Utils.registry``)."""
    doc: str
    flags: tuple
    build: Callable
    default_name: Callable

    def parse(self, argv=None):
        """-> (parser, args with derived values filled in, the flags as given)."""
        parser = common_parser(self.doc.strip().splitlines()[0], dim=False)
        add_teacher_flags(parser)
        for group in self.flags:
            group.add(parser)
        args = apply_protocol(parser, argv)
        as_given = dict(vars(args))
        if args.teacher_dim is None:
            args.teacher_dim = TEACHER_DIMS[args.model]
        if args.teacher_threads < 0:
            raise InputError(f"--teacher_threads must be non-negative, got {args.teacher_threads}")
        if not 0 < args.percent <= 1:
            raise InputError(f"--percent must be in (0, 1], got {args.percent}")
        args.dim = int(args.teacher_dim * args.percent)
        if args.dim < 1:
            raise InputError(f"--teacher_dim {args.teacher_dim} x --percent {args.percent} gives a student "
                             "of dim 0")
        for group in self.flags:
            for flag in group.model_defaults:
                default = group.model_default(flag, args.model)
                if getattr(args, flag) is None:
                    setattr(args, flag, default)
                if as_given[flag] == default:
                    as_given[flag] = None             # the model's default: not part of the run name
            if group.fill:
                group.fill(args)
        return parser, args, as_given

    def planned_name(self, argv=None):
        """The run name ``main(argv)`` would log under."""
        parser, args, as_given = self.parse(argv)
        return args.run_name or run_name(parser, as_given, *self.default_name(args))

    def main(self, argv=None):
        parser, args, as_given = self.parse(argv)
        name = args.run_name or run_name(parser, as_given, *self.default_name(args))
        ctx = setup(args)
        teacher, teacher_path, teacher_lines = load_or_train_teacher(ctx)
        method = self.build(ctx, teacher, teacher_path)
        header = [f"Student Dim:: {args.dim}"] + teacher_lines + method.describe()
        key = dict(split_key(ctx), model=BASE_MODELS[args.model].name, dim=args.dim, method=method.name,
                   seed=args.seed)
        path = os.path.join(args.save_path, args.dataset, f"{name}.student.pt")   # the student alone
        return run(ctx, new_student(ctx, args.dim), method, name, header=header,
                   checkpoint_path=path, checkpoint_key=key,
                   identity={"teacher": tensors_fingerprint(teacher.state_dict())})
