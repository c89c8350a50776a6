"""`theseus-tf compress`: BERT-of-Theseus, or the finetune/distill baselines."""

from trainers import data_source, model_record, recipe
from trainers.commands import finetune, flags
from trainers.commands import validation

NAME = "compress"
REQUIRED = ("model", "output_dir")
WHEN_INTERRUPTED = "run the same command again to resume"

_EPILOG = """\
budget:
  The replacing phase lasts until p = 1: --replacing-steps (constant), or
  ceil((1 - base_rate) / slope) steps (linear). The successor-only phase
  lasts --successor-steps / --successor-epochs; without them, it is what
  --epochs / --max-steps leaves after the replacing phase, whose length
  defaults to half that budget. The baselines train for the same total.

examples:
  theseus-tf compress --model runs/bert-mrpc/best_model --task mrpc \\
      --data-dir glue_data --output-dir runs/theseus-mrpc --num-layers 6 \\
      --schedule linear --base-rate 0.3 --slope 6e-4 --epochs 15
  theseus-tf compress --model runs/bert-mrpc/best_model --task mrpc \\
      --data-dir glue_data --output-dir runs/theseus-mrpc-c \\
      --replacement-rate 0.5 --replacing-steps 2500 --successor-epochs 5
  theseus-tf compress ... --method distill --temperature 5 --alpha 0.7"""


def _short(rate):
  return f"{rate:.0e}".replace("e-0", "e-")  # 2e-5, not 2e-05.


def add_parser(subparsers):
  parser = flags.add_command_parser(
      subparsers, NAME,
      "compress a fine-tuned predecessor (BERT-of-Theseus or baselines)",
      flags.paragraph(
          "Compress a predecessor fine-tuned on the task (--model) into a "
          "shallower successor. --method theseus (default) replaces modules "
          "progressively, then fine-tunes the successor alone once the "
          "replacement rate p reaches 1; --method finetune and --method "
          "distill are the baselines, trained on the same data for the same "
          "number of steps.") + "\n\n" + flags.paragraph(
              "The schedule defaults are the study's recommended recipe (p "
              f"rising linearly from {recipe.BASE_RATE:g}, reaching 1 at "
              f"{recipe.REPLACING_SHARE:.0%} of the budget; the task loss "
              "alone, no KD term): docs/RESULTS.md, round 2, has the "
              "evidence and docs/CLI.md the recipe. The learning rate stays "
              f"BERT-base's {_short(recipe.LEARNING_RATE)}; the study's "
              f"MiniLM runs used {_short(recipe.MINILM_LEARNING_RATE)}."),
      epilog=_EPILOG)
  group = parser.add_argument_group("model")
  flags.add_model(
      group, "the predecessor: a BERT classifier fine-tuned on --task (Hugging "
      "Face folder with tokenizer files, e.g. best_model/ of 'theseus-tf "
      "finetune', or a hub id). Required.")
  group.add_argument(
      "--method", choices=("theseus", "finetune", "distill"),
      default="theseus",
      help="theseus: progressive module replacing (default). finetune: the "
      "successor's layers (chosen by --init) fine-tuned directly as a "
      "--num-layers model. distill: vanilla knowledge distillation from the "
      "predecessor into that model.")
  flags.add_num_layers(
      group, "successor depth = number of modules; must divide the "
      "predecessor depth unless --grouping is given (default: half the "
      "predecessor depth).")
  group.add_argument(
      "--grouping", type=flags.int_list, metavar="SIZES",
      help="predecessor layers per module, bottom first, for uneven ratios, "
      "e.g. 3,3,2,2,2 for 12 -> 5 (default: equal modules).")
  group.add_argument(
      "--init", type=flags.successor_init, default="bottom", metavar="INIT",
      help="which predecessor layers initialise the successor layers: bottom "
      "(layers 0..n-1, the paper's), top, every_k, or indices such as 1,3,5 "
      "(default: bottom).")
  group = parser.add_argument_group("replacement schedule (--method theseus)")
  group.add_argument(
      "--schedule", choices=("constant", "linear"),
      help="constant: p = --replacement-rate until --replacing-steps, then 1. "
      "linear: p = min(1, base_rate + slope * step). Default: linear, or "
      "constant when --replacement-rate is given.")
  group.add_argument(
      "--replacement-rate", type=flags.probability, metavar="P",
      help=f"p of the constant schedule (default: {recipe.CONSTANT_RATE:g}).")
  group.add_argument(
      "--base-rate", type=flags.probability, metavar="B",
      help=f"p at step 0 of the linear schedule (default: "
      f"{recipe.BASE_RATE:g}).")
  group.add_argument(
      "--slope", type=flags.positive_float, metavar="K",
      help="growth of p per step of the linear schedule; p reaches 1 after "
      "ceil((1 - B) / K) steps. Exclusive with --replacing-steps.")
  group.add_argument(
      "--replacing-steps", type=flags.positive_int, metavar="N",
      help="length of the replacing phase: constant: steps at p before p = 1; "
      "linear: steps until p = 1, which sets the slope (default: "
      f"{recipe.REPLACING_SHARE:.0%}% of the --epochs/--max-steps budget).")
  group.add_argument(
      "--successor-steps", type=flags.non_negative_int, metavar="N",
      help="successor-only fine-tuning steps once p = 1 (default: the rest of "
      "the --epochs/--max-steps budget).")
  group.add_argument(
      "--successor-epochs", type=flags.non_negative_float, metavar="E",
      help="successor-only fine-tuning in epochs, instead of "
      "--successor-steps.")
  group.add_argument(
      "--unfreeze-shared", action="store_true",
      help="also train the embeddings, pooler and classifier head during the "
      "successor-only phase (the paper keeps them frozen).")
  group = parser.add_argument_group(
      "distillation (--method distill; --method theseus with --alpha)")
  group.add_argument(
      "--temperature", type=flags.positive_float, metavar="T",
      help="softmax temperature of the soft targets (default: 2).")
  group.add_argument(
      "--alpha", type=flags.probability, metavar="A",
      help="weight of the soft loss: A * T^2 * KL(teacher || student) + "
      "(1 - A) * CE(labels); MSE to the teacher for regression. distill: "
      "default 0.5. theseus: the predecessor's soft targets join the task "
      "loss (Theseus + KD); default: off, the task loss alone as in the "
      "paper.")
  flags.add_training_data_flags(parser, max_seq_length_default=None)
  flags.add_training_flags(parser,
                           default_learning_rate=recipe.LEARNING_RATE)
  return parser


def check(args):
  if args.max_seq_length is None:
    args.max_seq_length = model_record.trained_max_seq_length(
        args.model, default=flags.DEFAULT_MAX_SEQ_LENGTH)
  data_source.check_data_flags(args)
  validation.check_training(args)
  validation.check_compress(args)


run = finetune.run  # The same training loop.
