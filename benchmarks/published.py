"""Published results to compare against (from ../shared/data/README.md).

GUE numbers are test MCC x100 from the DNABERT-2 paper (arXiv 2306.15006) as quoted
by secondary sources (treat the third digit with care); NT is the best NT-2500M
variant quoted per task (the table of ../shared/data/README.md); "best" is that
table's last column (the best published result, whichever model). The CNN floor is a Genomic-Benchmarks-style CNN trained 10
epochs on the same 2-core machine.
"""

GUE = {
    # task: (DNABERT-2, NT-2500M-multi, CNN floor, best published)
    "tf/0": (71.99, 66.64, 58.4, 71.99),
    "tf/1": (76.06, 70.28, 64.7, 76.06),
    "tf/2": (66.52, 58.72, 59.0, 70.5),
    "mouse/0": (56.76, 63.31, 37.0, 63.31),
    "mouse/2": (79.32, 71.52, 13.7, 84.5),
    "mouse/3": (66.47, 69.44, 38.1, 82.7),
    "prom/prom_core_all": (69.37, 70.33, 57.8, 70.92),
    "prom/prom_core_notata": (68.04, 71.58, 61.7, 71.58),
    "prom/prom_300_tata": (71.59, 79.43, 47.5, 80.4),
}

# StatLog splice, test accuracy (%) on the 1,186 StatLog test rows.
STATLOG = {"RBF network": 95.9, "DIPOL92": 95.2, "logistic discrimination": 93.9,
           "naive Bayes": 93.2, "C4.5": 92.4, "back-propagation": 91.2, "kNN": 84.5}

# CNNProm (Umarov & Solovyev 2017), held-out test: sensitivity, specificity, CC.
CNNPROM = {
    "ecoli": (0.90, 0.96, 0.84),
    "bsubtilis": (0.91, 0.95, 0.86),
    "arabidopsis_tata": (0.95, 0.97, 0.91),
    "arabidopsis_non_tata": (0.94, 0.94, 0.86),
    "mouse_tata": None,  # Not in the README's list of published figures.
}

# UCI E. coli promoters, leave-one-out errors out of 106.
UCI_PROMOTERS = {"KBANN": 4, "back-propagation": 8, "ID3": 19}
