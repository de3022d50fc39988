"""Genome scans: tiling, the streamed FASTA, and a scan of a synthetic genome with
planted CTCF sites by a model that learnt them."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from gslm_keras.errors import ConfigError, InputError
from gslm_keras.inference import scan as scan_module
from gslm_keras.inference import tiling
from gslm_keras.inference.config import ScanConfig
from gslm_keras.io.fasta_stream import GenomeStream
from gslm_keras.models import ModelConfig
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.trainer import train

import planted
from helpers import build, with_head_of

N_RUN = (20_000, 22_000)


def _fasta(path, contigs, width=70, opener=open):
  with opener(path, "wt") as handle:
    for name, sequence in contigs.items():
      handle.write(f">{name} some description\n")
      handle.writelines(sequence[i:i + width] + "\n" for i in range(0, len(sequence), width))


def test_stream_gives_each_contig_whole_in_chunks(tmp_path):
  rng = np.random.default_rng(0)
  contigs = {f"c{i}": "".join(rng.choice(list("ACGTNacgtn"), size=n))
             for i, n in enumerate((1000, 0, 357, 4096))}
  path = tmp_path / "g.fa.gz"
  _fasta(path, contigs, width=61, opener=gzip.open)
  stream = GenomeStream(str(path))
  assert stream.lengths == {k: len(v) for k, v in contigs.items()}
  got: dict[str, str] = {}
  for name, offset, data in stream.chunks(chunk_bases=100):
    assert offset == len(got.get(name, ""))
    got[name] = got.get(name, "") + data.decode()
  assert got == {k: v.upper() for k, v in contigs.items() if v}


def test_stream_names_the_contig_and_line_of_a_bad_letter(tmp_path):
  path = tmp_path / "bad.fa"
  path.write_text(">a\nACGT\n>b\nACGT\nAC#T\n")
  with pytest.raises(InputError, match=r"contig b, line 5.*'#'"):
    GenomeStream(str(path))
  path.write_text(">a\nACGT\n>a\nACGT\n")
  with pytest.raises(InputError, match="repeated"):
    GenomeStream(str(path))


@pytest.mark.parametrize("stride,chunk", [(1, 7), (10, 50), (37, 1000), (150, 64)])
def test_windows_are_the_bases_at_each_start(stride, chunk):
  rng = np.random.default_rng(stride)
  contig = bytes(rng.choice(list(b"ACGT"), size=3000).astype(np.uint8))
  regions = [(0, 400), (500, 560), (900, 2999)]
  length = 51
  chunks = [(o, contig[o:o + chunk]) for o in range(0, len(contig), chunk)]
  found = list(tiling.contig_windows(
      iter(chunks), tiling.window_starts(regions, length, stride, first=0, block=4),
      length, most=9))
  starts = np.concatenate([s for s, _ in found])
  expected = [s for start, end in regions for s in range(start, end - length + 1, stride)]
  assert starts.tolist() == expected
  for begins, windows in found:
    for s, w in zip(begins, windows):
      assert bytes(w) == contig[s:s + length]
  # A resumed scan starts at the first window at or after its position.
  resumed = np.concatenate([s for s, _ in tiling.contig_windows(
      iter(chunks), tiling.window_starts(regions, length, stride, first=950),
      length, most=1000)])
  assert resumed.tolist() == [s for s in expected if s >= 950]


def test_scan_config_refuses_what_it_cannot_write():
  with pytest.raises(ConfigError, match="bigWig tracks"):
    ScanConfig(model="m", genome="g", output="x.wig")
  with pytest.raises(ConfigError, match="add a .bed"):
    ScanConfig(model="m", genome="g", output="x.bw", threshold=0.5)
  with pytest.raises(ConfigError, match="at most one"):
    ScanConfig(model="m", genome="g", output="a.bed,b.bed")


@pytest.fixture(scope="module")
def motif_model(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("planted")
  _, pwm = planted.motif_pwm()
  planted.write_splits(tmp / "csv", pwm)
  info = build(tmp / "data", train=[tmp / "csv/train.csv"], dev=[tmp / "csv/dev.csv"],
               test=[tmp / "csv/test.csv"], id_column="id",
               computed_features=["gc_content"])
  model = with_head_of(ModelConfig(
      stem_widths=(15,), stem_filters=16, stem_pool=1, tower_blocks=1, tower_filters=32,
      feature_units=(8,), fusion_units=32, dropout=0.1), "global")
  config = TrainConfig.create(data_dir=info.directory, model_dir=str(tmp / "model"),
                              model=model, epochs=4, batch_size=64, learning_rate=3e-3,
                              verbose=0)
  assert train(config).metrics["test"]["auroc"] > 0.95
  return {"dir": config.model_dir, "pwm": pwm, "tmp": tmp}


@pytest.fixture(scope="module")
def planted_genome(motif_model):
  """chr1 (30 kb, 12 sites, an N run) and chr2 (5 kb, 2 sites) of random DNA, and
  a contig shorter than the window; plain gzip."""
  rng = np.random.default_rng(7)
  pwm = motif_model["pwm"]
  sites = {}
  contigs = {}
  for name, size, count in (("chr1", 30_000, 12), ("chr2", 5_000, 2)):
    bases = rng.choice(list("ACGT"), size=size)
    places = [1_000 + i * (size - 2_000) // count for i in range(count)]
    places = [p for p in places if not N_RUN[0] - 200 < p < N_RUN[1] + 200]
    for p in places:
      instance = "".join("ACGT"[rng.choice(4, p=column)] for column in pwm)
      bases[p:p + len(pwm)] = list(instance)
    if name == "chr1":
      bases[N_RUN[0]:N_RUN[1]] = "N"
    contigs[name] = "".join(bases)
    sites[name] = places
  contigs["short"] = "ACGT" * 10
  path = motif_model["tmp"] / "genome.fa.gz"
  _fasta(path, contigs, opener=gzip.open)
  return {"path": str(path), "contigs": contigs, "sites": sites, "width": len(pwm)}


def _scan(motif_model, planted_genome, out, **fields):
  from gslm_keras import api

  return api.scan(model=motif_model["dir"], genome=planted_genome["path"],
                  output=f"{out}/track.bw,{out}/sites.bed", stride=10,
                  progress_seconds=1e9, **fields)


def _bed(path):
  return [(f[0], int(f[1]), int(f[2]), int(f[4])) for f in
          (line.split("\t") for line in open(path) if not line.startswith("track"))]


def test_scan_tracks_equal_predictions_and_elements_find_the_sites(
    motif_model, planted_genome, tmp_path):
  import pyBigWig

  from gslm_keras.inference.model import LoadedModel

  summary = _scan(motif_model, planted_genome, tmp_path)
  contigs, length = planted_genome["contigs"], 101
  assert summary["contigs_shorter_than_window"] == 1
  assert summary["threshold"]["source"] == "dev split" and summary["threshold"]["mcc"] > 0.8
  # Windows skipped for N, counted independently.
  chr1 = np.frombuffer(contigs["chr1"].encode(), np.uint8)
  starts = {c: range(0, len(contigs[c]) - length + 1, 10) for c in ("chr1", "chr2")}
  skipped = sum((chr1[s:s + length] == ord("N")).mean() > 0.1 for s in starts["chr1"])
  assert summary["skipped_n"] == skipped > 0
  assert summary["windows"] == sum(map(len, starts.values()))
  # Each track value is the model's prediction for the window centred on it.
  model = LoadedModel(motif_model["dir"])
  track = pyBigWig.open(str(tmp_path / "track.bw"))
  assert track.chroms() == {k: len(v) for k, v in contigs.items()}
  sample = list(starts["chr2"])[::23]
  predicted = model.predict([contigs["chr2"][s:s + length] for s in sample])[:, 1]
  shown = [track.values("chr2", s + 45, s + 55) for s in sample]
  assert all(len(set(v)) == 1 for v in shown)
  np.testing.assert_allclose([v[0] for v in shown], predicted, atol=1e-5)
  assert track.intervals("chr1", N_RUN[0] + 10, N_RUN[1] - 10) is None
  assert track.intervals("short") is None
  track.close()
  # Elements: every planted site inside one. The dev split's threshold suits its
  # half-positive windows, not a genome where sites are rare: weaker elements
  # appear away from the sites, the strong ones (BED score >= 900) at them (random
  # DNA holds the odd strong CTCF-like match too).
  elements = _bed(tmp_path / "sites.bed")
  width = planted_genome["width"]
  found = [any(c == name and s <= p and p + width <= e for c, s, e, _ in elements)
           for name, places in planted_genome["sites"].items() for p in places]
  assert sum(found) >= len(found) - 1, (found, elements)
  strong = [(c, s, e) for c, s, e, score in elements if score >= 900]
  far = [(c, s, e) for c, s, e in strong
         if not any(s - 60 <= p <= e for p in planted_genome["sites"][c])]
  assert len(far) <= len(strong) // 4 and len(strong) - len(far) >= len(found) - 1, (
      strong, far)
  assert all(0 <= score <= 1000 for *_, score in elements)


def test_a_killed_scan_resumes_where_it_stopped(motif_model, planted_genome, tmp_path,
                                                 monkeypatch):
  import pyBigWig

  whole = _scan(motif_model, planted_genome, tmp_path / "whole", threshold=0.5)
  calls = {"n": 0, "rows": 0}
  original = scan_module.Work.append

  def dies(self, contig, starts, scores):
    calls["n"] += 1
    if calls["n"] > 4:
      raise KeyboardInterrupt
    calls["rows"] += len(starts)
    original(self, contig, starts, scores)

  monkeypatch.setattr(scan_module, "STATE_SECONDS", 0.0)
  monkeypatch.setattr(scan_module.Work, "append", dies)
  out = tmp_path / "resumed"
  with pytest.raises(KeyboardInterrupt):
    _scan(motif_model, planted_genome, out, threshold=0.5, batch_size=64)
  assert not (out / "track.bw").exists() and not (out / "sites.bed").exists()
  monkeypatch.setattr(scan_module.Work, "append", original)
  counted = {"rows": 0}

  def counts(self, contig, starts, scores):
    counted["rows"] += len(starts)
    original(self, contig, starts, scores)

  monkeypatch.setattr(scan_module.Work, "append", counts)
  again = _scan(motif_model, planted_genome, out, threshold=0.5, batch_size=64)
  assert counted["rows"] == whole["scored"] - calls["rows"] and calls["rows"] == 4 * 64
  for key in ("windows", "scored", "skipped_n"):
    assert again[key] == whole[key], key
  assert again["outputs"][f"{out}/sites.bed"] == whole["outputs"][
      f"{tmp_path}/whole/sites.bed"]
  assert open(out / "sites.bed").read().splitlines()[1:] == open(
      tmp_path / "whole/sites.bed").read().splitlines()[1:]
  a, b = pyBigWig.open(str(out / "track.bw")), pyBigWig.open(str(tmp_path / "whole/track.bw"))
  for name in ("chr1", "chr2"):
    np.testing.assert_allclose(a.values(name, 0, 5000), b.values(name, 0, 5000), atol=1e-6)
  assert not list(out.glob(".*scan-work*"))


def test_a_link_at_the_work_folder_is_refused(motif_model, planted_genome, tmp_path):
  from gslm_keras.io.files import UnsafePathError

  victim = tmp_path / "victim"
  victim.mkdir()
  (tmp_path / ".track.bw.scan-work").symlink_to(victim)
  with pytest.raises(UnsafePathError, match="a scan's work folder"):
    _scan(motif_model, planted_genome, tmp_path, threshold=0.5)
  assert list(victim.iterdir()) == [] and not (tmp_path / "track.bw").exists()
