#!/usr/bin/python3
"""The reference the bundled model must beat: scikit-learn TF-IDF word (1-2) + char_wb (2-5) n-grams with
a class-balanced logistic regression, trained on the human-labelled tweets of prepare.ts and scored on the
same evaluation sets (texts chat-normalized as the model sees them). Writes baseline.json beside the training arrays; evaluate.ts copies it into metrics.json.
"""
import argparse, json, os, sys, time

try:
    import numpy as np
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
except ImportError as err:
    sys.exit(f"baseline needs Debian's python3-sklearn: {err}")

sys.path.insert(0, os.path.dirname(__file__))
from train import TRAIN_SOURCES, load, metrics  # noqa: E402  (same loaders, sets and metrics as training)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="models/train/.work")
    ap.add_argument("--max-iter", type=int, default=300)
    ap.add_argument("--train-sources", default=TRAIN_SOURCES)
    args = ap.parse_args()
    t0 = time.time()
    meta, data = load(args.work)
    texts = json.load(open(os.path.join(args.work, "texts.json")))
    splits = data["splits"]
    train, dev, chat_dev, chat_test = (np.nonzero(splits == s)[0] for s in (0, 1, 2, 4))
    sources = np.fromfile(os.path.join(args.work, "sources.i8"), dtype=np.int8)
    train = train[np.isin(sources[train], [meta["sources"].index(n) for n in args.train_sources.split(",")])]
    tx = lambda rows: [texts[r] for r in rows]
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    features = lambda rows, fit=False: hstack([(word.fit_transform if fit else word.transform)(tx(rows)),
                                               (char.fit_transform if fit else char.transform)(tx(rows))]).tocsr()
    clf = LogisticRegression(C=2.0, max_iter=args.max_iter, class_weight="balanced").fit(features(train, True), data["labels"][train])
    report = {"model": "scikit-learn TF-IDF word(1-2)+char_wb(2-5), LogisticRegression(C=2, class_weight=balanced)",
              "train_sources": args.train_sources, "train_rows": int(len(train)),
              "dev": metrics(clf.predict(features(dev)), data["labels"][dev]),
              "chat_dev": metrics(clf.predict(features(chat_dev)), data["labels"][chat_dev]),
              "chat_test": metrics(clf.predict(features(chat_test)), data["labels"][chat_test]), "seconds": round(time.time() - t0)}
    json.dump(report, open(os.path.join(args.work, "baseline.json"), "w"), indent=2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
