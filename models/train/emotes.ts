// ChatPulse's own emote table: the Twitch, BetterTTV, FrankerFaceZ and 7TV emotes the bundled model knows
// by name (written to the model's chat.json), and the polarity each one usually carries in chat, which
// labels chat lines for weak supervision (prepare.ts). Written here by hand from how these emotes are used;
// no third-party lexicon is copied (their licenses do not allow it, see MODEL_CARD.md).
//   +1: joy, hype, approval   -1: sadness, boredom, disgust, anger, fear, mockery of the streamer
//    0: known emote, no steady polarity (laughter, sarcasm, confusion, waiting): canonicalized only
export const EMOTE_POLARITY: Readonly<Record<string, -1 | 0 | 1>> = {
  // hype and approval
  PogChamp: 1, Pog: 1, PogU: 1, POGGERS: 1, POGGIES: 1, PogBones: 1, PagChomp: 1, PagMan: 1, Pogey: 1,
  POGSLIDE: 1, LETSGO: 1, HYPERS: 1, Kreygasm: 1, FeelsGoodMan: 1, FeelsOkayMan: 1, SeemsGood: 1, BloodTrail: 1,
  VoteYea: 1, EZ: 1, EZClap: 1, Clap: 1, peepoClap: 1, '5Head': 1, GIGACHAD: 1, Gladge: 1, widepeepoHappy: 1,
  peepoHappy: 1, FeelsAmazingMan: 1, FeelsBirthdayMan: 1, peepoLove: 1, peepoHug: 1, HUGGERS: 1, GivePLZ: 1,
  TakeNRG: 1, HeyGuys: 1, TwitchUnity: 1, bleedPurple: 1, CoolCat: 1, AYAYA: 1, catJAM: 1, pepeJAM: 1, pepeD: 1,
  PepoDance: 1, ratJAM: 1, Jammies: 1, gachiHYPER: 1, gachiGASM: 1, KomodoHype: 1,
  PartyHat: 1, TwitchLit: 1, FeelsStrongMan: 1,
  // Laughter is joy as often as mockery ("he's so bad LUL"): as a distant label it cost both TweetEval and chat
  // dev macro-recall (MODEL_CARD.md), so these are known emotes without a polarity.
  LUL: 0, LULW: 0, OMEGALUL: 0, KEKW: 0, KEKL: 0, KEKWait: 0, PepeLaugh: 0, '4Head': 0, EleGiggle: 0, peepoGiggles: 0,
  Jebaited: 0,
  // sadness, boredom, disgust, anger, fear
  BibleThump: -1, Sadge: -1, PepeHands: -1, FeelsBadMan: -1, widepeepoSad: -1, peepoSad: -1, Sadeg: -1,
  NotLikeThis: -1, ResidentSleeper: -1, Bedge: -1, DansGame: -1, WutFace: -1, SwiftRage: -1, BabyRage: -1,
  FailFish: -1, VoteNay: -1, monkaS: -1, monkaW: -1, monkaGIGA: -1, WeirdChamp: -1, WeirdDude: -1, Madge: -1,
  FeelsWeirdMan: -1, Pepega: -1, Pepege: -1, DonoWall: -1, cmonBruh: -1, PJSalt: -1, COPIUM: -1,
  Deadge: -1, peepoWTF: -1, ReallyMad: -1, FeelsDankMan: 0, PogO: -1, NOPERS: -1, Smadge: -1, PunOko: -1,
  // known, no steady polarity
  Kappa: 0, Keepo: 0, Kapp: 0, KappaPride: 0, YEP: 0, HUH: 0, Aware: 0, Clueless: 0, Susge: 0, monkaHmm: 0,
  PauseChamp: 0, Waiting: 0, modCheck: 0, NOTED: 0, Stare: 0, WAYTOODANK: 0, TriHard: 0, SMOrc: 0,
  DatSheffy: 0, MrDestructoid: 0, BOOBA: 0, ICANT: 0, Okayge: 0, forsenCD: 0,
};

export const EMOTE_NAMES = Object.keys(EMOTE_POLARITY);

/**
 * Chat words (not emotes) with as steady a polarity: `W`/`L` (a win/a loss: approval/disapproval), `gg`.
 * Weak labels only; they are ordinary words to the tokenizer. Single letters count in capitals alone
 * (`w` is "with"); longer words in any casing.
 */
export const CHAT_WORD_POLARITY: Readonly<Record<string, -1 | 1>> = {
  W: 1, Ws: 1, L: -1, Ls: -1, gg: 1, ggs: 1, ggwp: 1, cringe: -1,
};

export function chatWordPolarity(word: string): -1 | 0 | 1 {
  const key = word.length > 1 && !Object.hasOwn(CHAT_WORD_POLARITY, word) ? word.toLowerCase() : word;
  return Object.hasOwn(CHAT_WORD_POLARITY, key) ? (CHAT_WORD_POLARITY[key] as -1 | 1) : 0;
}
