// Step 5 of `npm run model:train`: writes MODEL_CARD.md from metrics.json, so every figure in the card is
// the one the evaluation measured (test/bundled-model.test.ts re-measures the headline through the engine).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Metrics } from './metrics.js';

interface Split {
  macro_recall: number;
  accuracy: number;
  f1: Record<string, number>;
}
type Evals = { dev: Split; chat_dev: Split; chat_test: Split };
interface Report {
  model: string;
  baseline_sklearn: { model: string; train_sources: string; train_rows: number; dev: Split; chat_dev: Split; chat_test: Split } | null;
  branches_in_training: {
    linear: Evals;
    transformer: Evals;
    hybrid: Evals;
    parameters: { transformer: number; linear: number };
    alpha: number;
  } | null;
  ablation: Array<{ key?: string; ingredients: string; rows: number } & Evals> | null;
  mixture?: string;
  training_args: Record<string, string | number | boolean> | null;
  data: {
    vocabSize: number;
    buckets: number;
    counts: Record<string, number>;
    trainBySource: Record<string, number>;
    weakBySource: Record<string, number>;
    weakByLabel: Record<string, number>;
    emojiPolarities: number;
    emotes: number;
    chatWords?: string[];
  } | null;
  served: string;
  tweeteval_val: Metrics;
  chat_dev: Metrics;
  chat_test: Metrics;
  sanity: Metrics;
  training_seconds: number | null;
  msgs_per_s_one_thread: number;
  variants: {
    fp32: { bytes: number; tweeteval_val: Metrics; msgs_per_s_one_thread: number };
    int8: { bytes: number; tweeteval_val: Metrics; msgs_per_s_one_thread: number } | null;
  };
  machine: { cores: number; cpu: string; node: string };
  date: string;
}

const f3 = (x: number) => x.toFixed(3);
const pts = (x: number) => (100 * x).toFixed(1);
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const f1s = (m: Split) => `${f3(m.f1.negative ?? 0)} / ${f3(m.f1.neutral ?? 0)} / ${f3(m.f1.positive ?? 0)}`;
const row = (name: string, e: Evals) =>
  `| ${name} | ${f3(e.dev.macro_recall)} | ${f3(e.chat_dev.macro_recall)} | ${f3(e.chat_test.macro_recall)} | ${f1s(e.chat_test)} |`;

export function card(r: Report): string {
  const args = r.training_args ?? {};
  const b = r.branches_in_training;
  const base = r.baseline_sklearn;
  const bySource = r.data?.trainBySource ?? {};
  const weak = r.data?.weakBySource ?? {};
  const weakByLabel = r.data?.weakByLabel ?? {};
  const int8 = r.variants.int8;
  const minutes = r.training_seconds === null ? 'not measured' : `${Math.round(r.training_seconds / 60)} minutes`;
  const neutralPseudo = Number(args.pseudo_neutral ?? 0);
  const mix = r.mixture ?? '';
  const kept = (yes: boolean) => (yes ? 'kept' : 'dropped');
  return `# chatpulse-mini

A small sentiment classifier for live-stream chat (labels: negative, neutral, positive), **trained from
scratch** in this repository on tweets and Twitch chat: no pretrained weights were used (none can be
downloaded where it was built). It is the model ChatPulse serves when neither \`MODEL\` nor \`MODEL_DIR\` is set.

## Headline (measured through the serving engine)

| | TweetEval sentiment validation | Twitch chat test (held out) | Twitch chat dev | chat sanity suite |
|---|---|---|---|---|
| macro-averaged recall | **${f3(r.tweeteval_val.macro_recall)}** | **${f3(r.chat_test.macro_recall)}** | ${f3(r.chat_dev.macro_recall)} | ${f3(r.sanity.macro_recall)} |
| accuracy | ${f3(r.tweeteval_val.accuracy)} | ${f3(r.chat_test.accuracy)} | ${f3(r.chat_dev.accuracy)} | ${f3(r.sanity.accuracy)} |
| F1 negative / neutral / positive | ${f1s(r.tweeteval_val)} | ${f1s(r.chat_test)} | ${f1s(r.chat_dev)} | ${f1s(r.sanity)} |
| texts | ${r.tweeteval_val.n} | ${r.chat_test.n} | ${r.chat_dev.n} | ${r.sanity.n} |

Served graph: \`${r.served}\`. Scored by \`models/train/evaluate.ts\` (\`npm run model:train\` runs it) with the
server's own chat normalizer, tokenizer, featurizer and onnxruntime code. \`test/bundled-model.test.ts\` recomputes
the validation score through the engine on every test run, and \`test/chat-sanity.test.ts\` requires the sanity suite
(\`test/fixtures/chat-sanity.tsv\`, hand-checked obvious chat lines) to pass. The TweetEval **test** split and the
Twitch set kept outside the project are not available here: they are scored outside.

The Twitch chat sets are the de-duplicated JasonMates messages split in two halves by a hash of the text
(\`splitChatEval\` in \`models/train/datasets.ts\`): **dev**, on which data ingredients, the best epoch and the
branch mix were chosen together with TweetEval validation, and **test**, which played no part in any choice.

## Branches and baselines (macro-recall; chat test per-class F1)

| model | TweetEval val | chat dev | chat test | chat test F1 neg / neu / pos |
|---|---|---|---|---|
${base ? row(`scikit-learn reference on the human-labelled tweets only: ${base.model}`, { dev: base.dev, chat_dev: base.chat_dev, chat_test: base.chat_test }) : '| scikit-learn reference | not run | | | |'}
${b ? row('linear branch alone (hashed n-grams, logistic regression)', b.linear) : ''}
${b ? row('transformer branch alone', b.transformer) : ''}
${b ? row(`**hybrid (shipped)**: linear + ${b.alpha} x transformer, in PyTorch`, b.hybrid) : ''}

The branch rows are measured in PyTorch at the end of training; the headline is the exported graph through the
serving engine. The transformer is trained as a classifier on its own (after masked-language pretraining), and
the hybrid adds its logits, scaled by a factor chosen on the dev sets, to the linear branch's.

## Data ingredients (linear model alone, each fitted on the rows named)

Every mixture is fitted and scored with the linear model; the one with the best mean of TweetEval validation and
chat dev macro-recall (never chat test) is what both branches of the shipped model train on (**bold**).

| training rows | rows | TweetEval val | chat dev | chat test |
|---|---|---|---|---|
${(r.ablation ?? []).map((a) => `| ${a.key === mix ? `**${a.ingredients} (shipped)**` : a.ingredients} | ${a.rows} | ${f3(a.dev.macro_recall)} | ${f3(a.chat_dev.macro_recall)} | ${f3(a.chat_test.macro_recall)} |`).join('\n')}

- **Emote and emoji labels** (${kept(mix !== 'tweets')}): a chat line whose emotes (ChatPulse's own emote table,
  \`models/train/emotes.ts\`, ${r.data?.emotes ?? 0} emotes, and ${(r.data?.chatWords ?? []).length} chat words with a steady polarity:
  ${(r.data?.chatWords ?? []).map((w) => `\`${w}\``).join(', ')}) and emoji (${r.data?.emojiPolarities ?? 0} emoji with a clear polarity in the Emoji Sentiment
  Ranking) all point one way is labelled that way: ${weak['chat-weak'] ?? 0} lines (with the stripped copies below: negative ${weakByLabel['0'] ?? 0} /
  positive ${weakByLabel['2'] ?? 0}), weighted ${args.weak_weight} against a human label.
- **The same lines with the emotes removed**, so that the words around an emote learn its polarity:
  ${weak['chat-weak-stripped'] ?? 0} lines; ${kept(mix === 'stripped')}. The lines left are mostly neutral-looking text with a polar label, which teaches the model to stop predicting neutral on chat.
- **Pseudo-neutral chat** (self-training; ${kept(mix === 'neutral' || mix === 'self')}): the ${neutralPseudo} chat lines without an emote/emoji label that the
  tweet-only model calls neutral most confidently, weighted ${args.weak_weight}: emote labels are positive or negative only, and these keep
  neutral chat neutral, at a cost in chat dev recall (table).
- **Self-training on all classes** (${kept(mix === 'self')}): the pseudo-neutral lines plus the ${Math.floor(neutralPseudo / 2)} chat lines per
  polar class the tweet-only model is surest of.

### Tried during development and dropped

Linear model alone, seed 13, scored on the two dev sets only (TweetEval validation / chat dev macro-recall).
These runs chose the emote table's laughter policy, the weak-label weight and C; the recipe does not repeat them.

| variant | TweetEval val | chat dev |
|---|---|---|
| human-labelled tweets only (C=1) | 0.672 | 0.575 |
| + emote labels with laughter (\`LUL\`, \`KEKW\`...) as positive, weight 1.0, no pseudo-neutral | 0.581 | 0.646 |
| the same + emote-stripped copies, weight 1.0 / weight 0.3 | 0.511 / 0.607 | 0.511 / 0.535 |
| laughter positive, weight 0.3, 40k pseudo-neutral, C=1 | 0.654 | 0.629 |
| laughter positive, weight 1.0, 60k pseudo-neutral, C=1 | 0.652 | 0.601 |
| laughter without polarity, weight 0.3, 40k pseudo-neutral, C=1 | 0.662 | 0.639 |
| laughter positive, weight 0.3, 40k pseudo-neutral, C=3 | 0.654 | 0.654 |
| laughter without polarity, weight 0.3, 40k pseudo-neutral, C=3 | 0.664 | 0.652 |
| laughter without polarity, weight 0.2, 60k pseudo-neutral, C=3 (the weight and C the recipe keeps) | 0.672 | 0.651 |

## Data and licenses

| set | use | rows | license (as stated by its source) |
|---|---|---|---|
| SemEval-2013..2016 Twitter (SemEval-2017 Task 4A release) | classifier training (human labels) | ${bySource.semeval2017 ?? 0} | repository MIT; tweets: SemEval research use and Twitter's terms |
| Tweet Sentiment Extraction (Kaggle) | classifier training (human labels) | ${bySource['tweet-sentiment-extraction'] ?? 0} | CC BY 4.0 |
| Twitch chat, 8 public repositories, 18 channels, 2016-2022 (\`twitch-chat-unlabeled\`) | masked-language pretraining; weak (emote/emoji) and pseudo labels derived from the text | ${r.data?.counts.chat ?? 0} distinct lines | 2 sources MIT (NLSS_Project, Twitch_Chatlogs); 6 none stated (about 95% of the lines). Chat text is user content under Twitch's terms. Used as the project's data policy allows (self-supervised pretraining and text-derived weak labels, disclosed here); never redistributed |
| Emoji Sentiment Ranking v1.0 (Kralj Novak et al. 2015) | emoji polarities for weak labels (only the sign of each emoji's score is used) | ${r.data?.emojiPolarities ?? 0} emoji | CC BY-SA 4.0 (upstream, unverified) |
| ChatPulse emote table (\`models/train/emotes.ts\`) | emote names the model knows (\`chat.json\`) and their polarities for weak labels | ${r.data?.emotes ?? 0} emotes | written in this repository |
| GoEmotions (sentiment grouping, single-label, no "ambiguous") | masked-language pretraining only | ${bySource.goemotions ?? 0} | CC BY 4.0 |
| Sentiment140 (100k emoticon-labelled subset) | masked-language pretraining only (labels unused) | ${r.data?.counts.unlabelled ?? 0} | repository MIT; data academic |
| TweetEval sentiment validation | dev set (choices) and a headline metric; never trained on | ${r.tweeteval_val.n} | TweetEval: no restrictions beyond the sources' |
| Twitch chat, JasonMates (student-labelled) | dev and test halves for evaluation only (no license stated, so never trained on) | ${r.chat_dev.n + r.chat_test.n} unique | none stated |

Not used: the JasonMates and Sebsh1 emote lexicons (no license stated; the emote table here is written
independently), US Airline (CC BY-NC-SA), MELD (GPL), the YouTube live-chat set (non-commercial). Every
training text identical to a TweetEval validation or JasonMates text (after normalization) was removed, and
texts whose copies disagree were dropped.

## Chat normalization (shared by training and serving)

\`src/sentiment/chat-text.ts\`, driven by the model's \`chat.json\`, rewrites every text before the tokenizer
and the n-grams, in training (\`prepare.ts\`) and in the server: known emotes become their canonical name
whatever the casing, elongation or channel prefix (\`pogchamp\`, \`Poggg\`, \`LULLLL\`, \`sodaLUL\`);
other words have runs of 3+ letters collapsed to 2 and are lowercased when written in capitals (\`INSANE\`).
Ingested Twitch messages carry emote positions; the engine reads each reported emote behind any channel
prefix (\`hasan2Sadge\` is \`Sadge\`), which by name alone would be a guess.

## Architecture

One ONNX graph, two branches whose logits are summed:

- **Linear branch**: hashed word 1-2-grams and character 2-5-grams (inside space-padded words) into
  ${r.data?.buckets ?? 0} buckets, sublinear tf x idf, L2-normalized, times a ${r.data?.buckets ?? 0} x 3 weight
  table (a gather, multiply and sum: exactly a logistic regression, fitted with L-BFGS, C=${args.linear_c ?? ''}, per-row weights).
  The n-grams are computed in the worker by \`src/sentiment/featurizer.ts\`, the same code that built the
  training features, and fed as \`ngram_ids\`/\`ngram_weights\`.
- **Transformer branch**: ${args.layers} pre-norm encoder layers, hidden ${args.hidden}, ${args.heads} heads, feed-forward ${args.ffn},
  factorized token embeddings (${args.emb} dimensions) over a byte-level BPE vocabulary of ${r.data?.vocabSize ?? 0} pieces (the
  twitter-roberta tokenizer reduced to the pieces the tweet and chat corpus uses at least 4 times), learned
  positions, mean pooling; pretrained with masked-language modelling (${args.mlm_epochs} epoch over the tweets, the
  unlabelled tweets and Reddit comments, and the Twitch chat lines), then fine-tuned alone as a classifier on
  the training mixture (label smoothing 0.1, class-balanced and per-row weights, length-bucketed batches, best
  of ${args.ft_epochs} epochs on the dev sets).
- Parameters: transformer ${b?.parameters.transformer ?? 0}, linear ${b?.parameters.linear ?? 0}.
- Files: \`onnx/model.onnx\` (${mb(r.variants.fp32.bytes)} MB)${int8 ? `, \`onnx/model_quantized.onnx\` (${mb(int8.bytes)} MB, int8 weights)` : ''}.

## Speed

One inference thread, batches of 64 TweetEval texts, normalizing, tokenizing and featurizing included: fp32
${r.variants.fp32.msgs_per_s_one_thread} msgs/s${int8 ? `, int8 ${int8.msgs_per_s_one_thread} msgs/s (macro-recall ${f3(int8.tweeteval_val.macro_recall)} vs ${f3(r.variants.fp32.tweeteval_val.macro_recall)} fp32)` : ''};
served: ${r.msgs_per_s_one_thread} msgs/s per thread (${r.machine.cores} cores, ${r.machine.cpu}, Node ${r.machine.node}).
\`evaluate.ts\` keeps the int8 graph only if it is at least 5% faster at no more than 1 point of
macro-recall. Engine throughput with micro-batching and all threads: \`npm run bench:engine\`.

## Reproduce

\`\`\`sh
apt-get install -y python3-torch python3-onnx python3-numpy python3-sklearn
npm run model:train        # prepare.ts -> baseline.py -> train.py -> quantize.py -> evaluate.ts -> card.ts
\`\`\`

Seeded (seed ${args.seed}); CPU only (\`npm run model:train -- --device cuda\` trains the transformer on a GPU);
on ${r.machine.cores} cores the whole recipe took ${minutes}. Training arguments: \`${JSON.stringify(args)}\`.
Evaluated ${r.date.slice(0, 10)}.

## Limits

- Trained from scratch: below pretrained models (the TweetEval paper reports about 0.72 macro-recall on its
  test split for RoBERTa-base); for better accuracy on tweets set
  \`MODEL=Xenova/twitter-roberta-base-sentiment-latest\` (downloaded once; much slower per message: measure
  with \`npm run bench:engine -- --model <its folder>\`).
- English only. The chat it learned from is dominated by two channels (sodapoppin 2020, hasanabi 2022), and
  emote labels are distant: an emote's usual polarity is not always the line's. Laughter carries no label
  (it is joy and mockery alike), so a laughing line's sentiment rests on its words.
- The chat dev and test halves are small (about 670 lines each, one student annotator per line): differences
  of 2 points between runs are within noise. The scikit-learn reference, which nothing on chat chose, scores
  ${base ? pts(base.chat_dev.macro_recall - base.chat_test.macro_recall) : '?'} points lower on the test half than on the dev half: the test half is harder. The shipped model's
  gap is ${pts(r.chat_dev.macro_recall - r.chat_test.macro_recall)} points; the difference is what choosing on dev added to its dev figure. Sarcasm and irony are mostly missed.
`;
}

const dir = resolve(process.argv[2] ?? 'models/chatpulse-mini');
const report = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Report;
writeFileSync(join(dir, 'MODEL_CARD.md'), card(report));
console.log(`wrote ${join(dir, 'MODEL_CARD.md')}`);
