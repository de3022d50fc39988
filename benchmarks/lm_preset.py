r"""Builds the multi-species corpus and pretrains the shipped language-model preset.

  python -m benchmarks.lm_preset --shared_data=../shared/data

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

_SHARED = flags.DEFINE_string("shared_data", "../shared/data", "The shared data folder.")
_WORKDIR = flags.DEFINE_string("workdir", "build/lm_preset", "Corpus and run folder.")
_NAME = flags.DEFINE_string("name", "gslm-lm-multispecies", "Preset name.")
_FLAGFILE = flags.DEFINE_string("flagfile_pretrain", "models/pretrain.flags",
                                "Pretraining flagfile.")
_INSTALL = flags.DEFINE_boolean("install", True, "Copy the run into gslm_keras/presets.")

GUE_TASKS = ("tf/0", "tf/1", "tf/2", "mouse/0", "mouse/2", "mouse/3",
             "prom/prom_core_all", "prom/prom_core_notata", "prom/prom_300_tata")
LEFT_OUT = ("Bacillus_prom.fa", "Bacillus_non_prom.fa")
# Files copied into the preset.
PRESET_FILES = ("model.keras", "config.json", "train.flags", "dataset_info.json",
                "history.json", "MODEL_CARD.md", "yardsticks.npz")


def corpus_inputs(shared: str) -> list[str]:
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
         "--input=" + ",".join(corpus_inputs(shared)), "--exclude=" + ",".join(
             excluded(shared)), "--length=128", "--stride=64", "--both_strands",
         "--on_shorter=pad", "--split_fractions=0.9,0.05,0.05", "--split_block=2000",
         "--max_n_fraction=0.1", f"--output_dir={corpus}", "--name=lm_multispecies"])
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
    run(["gslm_keras.evaluate", f"--model_dir={model_dir}", f"--input={fasta}",
         f"--output={left_out}", "--source=b_subtilis"])
  if _INSTALL.value:
    import gslm_keras.presets as presets

    target = presets.path(_NAME.value)
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(os.path.join(target, "metrics"))
    for name in PRESET_FILES:
      shutil.copy2(os.path.join(model_dir, name), os.path.join(target, name))
    for path in glob.glob(os.path.join(model_dir, "metrics", "*.json")):
      shutil.copy2(path, os.path.join(target, "metrics"))
    print(f"Installed the preset {_NAME.value} in {target}")


if __name__ == "__main__":
  app.run(main)
