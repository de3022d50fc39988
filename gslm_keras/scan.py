r"""Tiles a genome with a model's window into bigWig tracks and a BED of elements.

  python -m gslm_keras.scan --model=build/models/promoters --genome=genome.fa.gz \
      --output=promoter.bw,promoters.bed

--model is a classifier's or regression model's training run or export (without
provided features). --genome is a FASTA, plain, gzip or bgzip, streamed: a
chromosome is never held whole. Windows start every --stride bases (half the
window by default) over the whole genome or the --regions of a BED file, on the
model's strand policy (--strands); windows with more N than --max_n_fraction,
and contigs shorter than the window, are counted and left as gaps. The bigWig
holds each window's score over the --stride bases at its centre (one track per
output; a binary classifier's positive class); the BED merges adjacent windows
scoring at least --threshold (without it: the cut with the best MCC on the
model's own dev split) into elements. Progress with an ETA; locked; outputs
appear whole or not at all, with `<first output>.summary.json`; a killed scan
resumes when run again with the same settings.
"""

from __future__ import annotations

from gslm_keras import cli, config_flags
from gslm_keras.inference.config import ScanConfig

# One flag per field of ScanConfig (command excepted), its documentation as help.
OPTIONS = config_flags.define(ScanConfig, module_name=__name__, exclude=("command",))


def main(argv):
  del argv
  config = OPTIONS.build(command=cli.command_line("gslm_keras.scan"))
  from gslm_keras import api

  summary = api.scan(config)
  print(f"{summary['scored']} windows of {summary['window']} bp (stride "
        f"{summary['stride']}) scored in {summary['seconds']:.0f} s; "
        f"{summary['skipped_n']} skipped for N")
  for path, what in summary["outputs"].items():
    print(f"  {path}: " + ", ".join(f"{v} {k}" for k, v in what.items()))
  if summary["threshold"]:
    print(f"  elements: {summary['threshold']['threshold']:.4g} and above "
          f"({summary['threshold']['source']})")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
