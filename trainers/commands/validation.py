"""Checks that finetune/compress flags fit together; fills dependent defaults.

Pure Python, run before anything is loaded: a contradiction costs the user
one line and no waiting.
"""

from trainers import recipe
from trainers.commands.flags import flag_given, flag_name
from trainers.errors import UsageError

DEFAULT_EPOCHS = 3.0
DEFAULT_WARMUP_RATIO = 0.1
DEFAULT_TEMPERATURE = 2.0
DEFAULT_ALPHA = 0.5


def _exclusive(args, first, second, hint=""):
  if flag_given(args, first) and flag_given(args, second):
    raise UsageError(f"{flag_name(first)} and {flag_name(second)} exclude each "
                     f"other: give one of them{hint}")


def _only_with(args, dests, condition, what):
  for dest in dests:
    if flag_given(args, dest) and not condition:
      raise UsageError(f"{flag_name(dest)} only applies to {what}: remove it "
                       "or change the setting")


def check_training(args):
  """The budget and warm-up flags of finetune and compress."""
  _exclusive(args, "warmup_ratio", "warmup_steps")
  if args.warmup_steps is None and args.warmup_ratio is None:
    args.warmup_ratio = DEFAULT_WARMUP_RATIO
  _exclusive(args, "epochs", "max_steps",
             " (--max-steps is the budget in optimizer steps)")
  if (args.command == "finetune" and args.epochs is None and
      args.max_steps is None):
    args.epochs = DEFAULT_EPOCHS


def check_compress(args):
  """The structure, schedule and method flags of compress."""
  if args.grouping is not None:
    if any(size < 1 for size in args.grouping):
      raise UsageError(f"--grouping {args.grouping}: every module needs at "
                       "least one predecessor layer")
    if args.num_layers is not None and args.num_layers != len(args.grouping):
      raise UsageError(
          f"--grouping has {len(args.grouping)} modules but --num-layers is "
          f"{args.num_layers}: drop --num-layers, or make them agree")
  if isinstance(args.init, list) and args.num_layers is not None and (
      len(args.init) != args.num_layers):
    raise UsageError(f"--init lists {len(args.init)} layers for "
                     f"{args.num_layers} successor layers: give one per layer")

  if args.schedule is None:
    # --replacement-rate is the constant schedule's p: it picks that one.
    args.schedule = ("constant" if flag_given(args, "replacement_rate")
                     else recipe.SCHEDULE)
  constant = args.schedule == "constant"
  _only_with(args, ("replacement_rate",), constant, "--schedule constant")
  _only_with(args, ("base_rate", "slope"), not constant, "--schedule linear")
  _exclusive(args, "slope", "replacing_steps",
             " (both set how long the linear schedule takes to reach p = 1)")
  if constant and args.replacement_rate is None:
    args.replacement_rate = recipe.CONSTANT_RATE
  if constant and args.replacement_rate == 0:
    raise UsageError("--replacement-rate 0 never replaces a module: use a rate "
                     "in (0, 1], e.g. the paper's 0.5")
  if not constant and args.base_rate is None:
    args.base_rate = recipe.BASE_RATE

  _exclusive(args, "successor_steps", "successor_epochs")
  successor_given = (flag_given(args, "successor_steps") or
                     flag_given(args, "successor_epochs"))
  if successor_given:
    for dest in ("epochs", "max_steps"):
      if flag_given(args, dest):
        raise UsageError(
            f"{flag_name(dest)} and --successor-steps/--successor-epochs "
            "both set the budget: with the successor phase given, training "
            "lasts the replacing phase plus that phase; drop one of them")
    if not (flag_given(args, "replacing_steps") or flag_given(args, "slope")):
      raise UsageError(
          "--successor-steps/--successor-epochs need the length of the "
          "replacing phase: add --replacing-steps (or --slope with --schedule "
          "linear)")
  elif args.epochs is None and args.max_steps is None:
    args.epochs = DEFAULT_EPOCHS

  distill = args.method == "distill"
  theseus = args.method == "theseus"
  # Theseus + KD: the frozen predecessor's soft targets join the task loss
  # when --alpha is given (off by default: the paper trains on the task
  # loss alone).
  _only_with(args, ("alpha",), distill or theseus,
             "--method distill or --method theseus")
  _only_with(args, ("temperature",), distill or flag_given(args, "alpha"),
             "--method distill, or --method theseus with --alpha")
  _only_with(args, ("unfreeze_shared",), theseus, "--method theseus")
  if theseus and flag_given(args, "alpha") and args.unfreeze_shared:
    # The teacher is the predecessor, which shares those layers.
    raise UsageError(
        "--alpha and --unfreeze-shared exclude each other: the soft targets "
        "come from the frozen predecessor, whose embeddings, pooler and head "
        "--unfreeze-shared would train; drop one of them")
  if distill and args.alpha is None:
    args.alpha = DEFAULT_ALPHA
  if args.alpha is not None and args.temperature is None:
    args.temperature = DEFAULT_TEMPERATURE
