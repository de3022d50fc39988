r"""Builds the multi-species corpus and pretrains the shipped language-model preset.

  python -m benchmarks.lm_preset --shared_data=../shared/data
  # the human-only corpus of the transfer comparison, not installed
  python -m benchmarks.lm_preset --shared_data=../shared/data --corpus=human \
      --workdir=build/lm_human --noinstall --results=benchmarks/results/language_model_human.json

One command, resumable: each step is skipped when its output exists, and the
pretraining resumes from its last backup when killed (run the command again).

1. Corpus (`build_dataset --task=unlabelled`): the C. trachomatis genome, the
   A. thaliana chloroplast and the Y. pestis plasmid (128-base windows every 64
   bases, both strands), the CNNProm promoter and non-promoter FASTA files of
   E. coli, Arabidopsis and mouse, and the train inputs of the 9 GUE tasks (one
   window per sequence, shorter ones padded with N, which is never predicted),
   with every GUE dev and test sequence excluded (any window sharing a 32-base
   substring with one, either strand). Never CAGI5. B. subtilis (CNNProm) is
   left out of the corpus: it is the species the model has never seen.
2. Pretraining with `models/pretrain.flags` (default trunk).
3. Bits per base on the left-out species (`evaluate --input`), to metrics/.
4. The run copied into `gslm_keras/presets/<name>/` (weights, config, manifest,
   metrics, yardsticks, model card).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

from absl import app, flags

from benchmarks import common

_SHARED = flags.DEFINE_string("shared_data", "../shared/data", "The shared data folder.")
_WORKDIR = flags.DEFINE_string("workdir", "build/lm_preset", "Corpus and run folder.")
_NAME = flags.DEFINE_string("name", "gslm-lm-multispecies", "Preset name.")
_FLAGFILE = flags.DEFINE_string("flagfile_pretrain", "models/pretrain.flags",
                                "Pretraining flagfile.")
_INSTALL = flags.DEFINE_boolean("install", True, "Copy the run into gslm_keras/presets.")
_CORPUS = flags.DEFINE_enum(
    "corpus", "multispecies", ["multispecies", "human"],
    "multispecies: every source below; human: the train splits of the 6 human GUE "
    "tasks only (the human-only corpus of the transfer comparison), same exclusion.")
_RESULTS = flags.DEFINE_string("results", "benchmarks/results/language_model.json",
                               "Where the measurements go (JSON and .md).")

GUE_TASKS = ("tf/0", "tf/1", "tf/2", "mouse/0", "mouse/2", "mouse/3",
             "prom/prom_core_all", "prom/prom_core_notata", "prom/prom_300_tata")
LEFT_OUT = ("Bacillus_prom.fa", "Bacillus_non_prom.fa")
# Files copied into the preset.
PRESET_FILES = ("model.keras", "config.json", "train.flags", "dataset_info.json",
                "history.json", "MODEL_CARD.md", "yardsticks.npz")


def corpus_inputs(shared: str, corpus: str = "multispecies") -> list[str]:
  if corpus == "human":
    return [f"{shared}/gue/{task}/train.csv:source=gue_human" for task in GUE_TASKS
            if not task.startswith("mouse")]
  genomes = os.path.join(shared, "genomes")
  inputs = [f"{genomes}/chlamydia_trachomatis_CHLTCG.fasta:source=c_trachomatis",
            f"{genomes}/NC_000932.gb:source=a_thaliana_chloroplast",
            f"{genomes}/NC_005816.fna:source=y_pestis_plasmid"]
  species = {"Ecoli": "e_coli", "Arabidopsis": "a_thaliana", "Mouse": "mouse"}
  for path in sorted(glob.glob(os.path.join(shared, "cnnprom", "*.fa"))):
    name = os.path.basename(path)
    if name in LEFT_OUT:
      continue
    prefix = name.split("_")[0]
    inputs.append(f"{path}:source=cnnprom_{species[prefix]}")
  for task in GUE_TASKS:
    source = "gue_mouse" if task.startswith("mouse") else "gue_human"
    inputs.append(f"{shared}/gue/{task}/train.csv:source={source}")
  return inputs


def excluded(shared: str) -> list[str]:
  return [f"{shared}/gue/{task}/{split}.csv" for task in GUE_TASKS
          for split in ("dev", "test")]


def run(args: list[str]) -> None:
  print("+", " ".join(args), flush=True)
  subprocess.run([sys.executable, "-m", *args], check=True)


def main(argv):
  del argv
  shared, work = _SHARED.value, _WORKDIR.value
  corpus = os.path.join(work, "corpus")
  model_dir = os.path.join(work, "model")
  if not os.path.exists(os.path.join(corpus, "dataset_info.json")):
    run(["gslm_keras.build_dataset", "--task=unlabelled",
         "--input=" + ",".join(corpus_inputs(shared, _CORPUS.value)), "--exclude=" + ",".join(
             excluded(shared)), "--length=128", "--stride=64", "--both_strands",
         "--on_shorter=pad", "--split_fractions=0.9,0.05,0.05", "--split_block=2000",
         "--max_n_fraction=0.1", f"--output_dir={corpus}", f"--name=lm_{_CORPUS.value}"])
  if not os.path.exists(os.path.join(model_dir, "MODEL_CARD.md")):
    run(["gslm_keras.pretrain", f"--flagfile={_FLAGFILE.value}", f"--data_dir={corpus}",
         f"--model_dir={model_dir}"])
  left_out = os.path.join(model_dir, "metrics", "left_out_b_subtilis.json")
  if not os.path.exists(left_out):
    fasta = os.path.join(work, "b_subtilis.fa")
    with open(fasta, "w") as out:
      for name in LEFT_OUT:
        with open(os.path.join(shared, "cnnprom", name)) as handle:
          out.write(handle.read().rstrip("\n") + "\n")
    run(["gslm_keras.evaluate", f"--model={model_dir}", f"--input={fasta}",
         f"--output={left_out}", "--source=b_subtilis"])
  write_results(corpus, model_dir, left_out)
  if _INSTALL.value:
    install(model_dir, left_out)


def write_results(corpus: str, model_dir: str, left_out: str) -> None:
  """benchmarks/results/language_model.{json,md}: the corpus, the training, and the
  language model against its yardsticks per split and source."""
  import json

  from benchmarks import common

  results = common.header("benchmarks.lm_preset")
  manifest = json.load(open(os.path.join(corpus, "dataset_info.json")))
  history = json.load(open(os.path.join(model_dir, "history.json")))
  config = json.load(open(os.path.join(model_dir, "config.json")))
  results["corpus"] = {"kind": _CORPUS.value, "build_command": manifest["build_command"],
                       "splits": {s: v["num_records"] for s, v in
                                  manifest["splits"].items()},
                       "sources": manifest["corpus"]["sources"],
                       "exclusion": {k: v for k, v in manifest["corpus"]["exclusion"].items()
                                     if k != "files"},
                       "sequence_overlaps": manifest["sequence_overlaps"]}
  results["training"] = {"steps": history[-1]["step"], "config": config,
                         "history": history}
  results["metrics"] = {split: json.load(open(os.path.join(model_dir, "metrics",
                                                           f"{split}.json")))
                        for split in ("dev", "test")}
  results["left_out"] = json.load(open(left_out))
  common.write_results(_RESULTS.value, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  kind = results["corpus"].get("kind", "multispecies")
  title = ("The shipped language model" if kind == "multispecies" else
           f"The language model of the {kind}-only corpus")
  lines = [f"# {title} against its yardsticks", "",
           common_lines(results), "",
           f"Corpus: {results['corpus']['splits']} windows of 128 bases; "
           f"{results['corpus']['exclusion']['windows_dropped']:,} windows dropped for "
           "sharing 32 bases with a GUE dev/test sequence. Training: "
           f"{results['training']['steps']:,} steps of 128 windows.", "",
           "Bits per base at 15% masked single positions (seeded; all set to N), the "
           "same positions for every model; the k-mer model (k chosen on dev) and the "
           "frequencies are counted on the whole train split. Margin = k-mer minus "
           "language model (positive: the language model is better).", "",
           "| split | source | positions | language model | k-mer | frequencies | margin "
           "| LM accuracy |", "|---|---|---:|---:|---:|---:|---:|---:|"]
  rows = [(split, r) for split, r in results["metrics"].items()]
  rows.append(("left out", results["left_out"]))
  for split, report in rows:
    for source, entry in [("all", report), *report["by_source"].items()]:
      y = entry["yardsticks"]
      lines.append(f"| {split} | {source} | {entry['positions']:,} | "
                   f"{entry['bits_per_base']:.4f} | {y['kmer']['bits_per_base']:.4f} | "
                   f"{y['frequencies']['bits_per_base']:.4f} | "
                   f"{entry['margin_over_kmer_bits']:+.4f} | {entry['accuracy']:.3f} |")
  k = results["metrics"]["dev"]["kmer_k"]
  lines += ["", f"k of the k-mer model: {k} (dev bits per k: "
            f"{results['metrics']['dev'].get('kmer_bits_on_dev')})."]
  return "\n".join(lines) + "\n"


def common_lines(results: dict) -> str:
  from benchmarks import common

  return common.machine_lines(results)


TERMS = """## Sources and their terms

| source tag | data | terms |
|---|---|---|
| c_trachomatis | Chlamydia trachomatis genome (NCBI, 1.04 Mb) | NCBI sequence data; redistributable (shipped in ../shared/data marked ship: yes) |
| a_thaliana_chloroplast | A. thaliana chloroplast NC_000932 (GenBank, 154 kb) | NCBI sequence; the file comes from Biopython's test data (Biopython License Agreement) |
| y_pestis_plasmid | Y. pestis plasmid pPCP1 NC_005816 (9.6 kb) | NCBI sequence; Biopython test data |
| cnnprom_e_coli, cnnprom_a_thaliana, cnnprom_mouse | CNNProm promoter and non-promoter sets (Umarov & Solovyev, PLoS ONE 2017) | no licence stated: only weights derived from them are shipped, never the sequences |
| gue_human, gue_mouse | train splits of the 9 GUE tasks of DNABERT-2 (Zhou et al., ICLR 2024) | GUE mirror (Apache-2.0 for prom_300_tata and mouse/3; the others benchmark-only): only derived weights are shipped |

Held out: every dev and test sequence of the 9 GUE tasks (any window sharing a
32-base substring with one, on either strand, was dropped before training), and the
CNNProm B. subtilis sets (the left-out species below). CAGI5 was never used.
"""


def install(model_dir: str, left_out: str) -> None:
  import json

  import gslm_keras.presets as presets

  target = presets.path(_NAME.value)
  shutil.rmtree(target, ignore_errors=True)
  os.makedirs(os.path.join(target, "metrics"))
  for name in PRESET_FILES:
    shutil.copy2(os.path.join(model_dir, name), os.path.join(target, name))
  for path in glob.glob(os.path.join(model_dir, "metrics", "*.json")):
    shutil.copy2(path, os.path.join(target, "metrics"))
  report = json.load(open(left_out))
  kmer = report["yardsticks"]["kmer"]["bits_per_base"]
  card = open(os.path.join(model_dir, "MODEL_CARD.md")).read()
  card = card.replace("# Nucleotide language model `model`",
                      f"# Nucleotide language model `{_NAME.value}` (preset)")
  card += (f"\n## A species left out of the corpus\n\nCNNProm B. subtilis promoters "
           f"and non-promoters (81 bp, {report['positions']:,} masked positions): "
           f"{report['bits_per_base']:.4f} bits per base, against {kmer:.4f} for the "
           f"k-mer model (k={report['kmer_k']}, counted on the corpus) and "
           f"{report['yardsticks']['frequencies']['bits_per_base']:.4f} for the "
           "corpus's base frequencies (`metrics/left_out_b_subtilis.json`).\n\n"
           + TERMS + "\n## Rebuild\n\n    python -m benchmarks.lm_preset "
           "--shared_data=../shared/data\n\nbuilds the corpus, pretrains with "
           "`models/pretrain.flags`, measures the left-out species and installs the "
           "run here (about an hour on 2 CPU cores). On a GPU, the same flagfile with "
           "`--batch_size=1024 --learning_rate=4e-3 --mixed_precision=auto` (float16; "
           "bfloat16 on TPU): the softmax head computes in float32.\n")
  with open(os.path.join(target, "MODEL_CARD.md"), "w") as handle:
    handle.write(card)
  print(f"Installed the preset {_NAME.value} in {target}")


if __name__ == "__main__":
  app.run(lambda argv: common.run(main, argv))
