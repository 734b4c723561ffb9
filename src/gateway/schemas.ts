// Request and response schemas: ajv validates every body against them before any logic runs, and the
// same objects describe the API in the OpenAPI document.
import { Type, type TSchema } from '@sinclair/typebox';

export interface Limits {
  maxTextLength: number;
  maxBatchTexts: number;
}

const Username = Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9_.-]+$' });
const Password = Type.String({ minLength: 8, maxLength: 128 });

export const Credentials = Type.Object({ username: Username, password: Password }, { additionalProperties: false });
export const RefreshBody = Type.Object({ refresh_token: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false });
export const LogoutBody = Type.Object(
  { refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })) },
  { additionalProperties: false },
);
/** The password a signed-in user re-enters for account-level actions (same bounds as at registration). */
export const CurrentPassword = Type.String({ minLength: 1, maxLength: 128, description: 'The account\'s current password' });
export const ApiKeyBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), current_password: CurrentPassword }, { additionalProperties: false });
export const DeleteAccountBody = Type.Object({ current_password: CurrentPassword }, { additionalProperties: false });

/** A text must hold something besides whitespace. */
const text = (limits: Limits) => Type.String({ minLength: 1, maxLength: limits.maxTextLength, pattern: '\\S' });

export const sentimentBody = (limits: Limits) => Type.Object({ text: text(limits) }, { additionalProperties: false });
export const batchBody = (limits: Limits) =>
  Type.Object({ texts: Type.Array(text(limits), { minItems: 1, maxItems: limits.maxBatchTexts }) }, { additionalProperties: false });

const Scores = Type.Record(Type.String(), Type.Number());
export const SentimentReply = Type.Object({ label: Type.String(), score: Type.Number(), scores: Scores, model: Type.String() });
export const BatchReply = Type.Object({ results: Type.Array(SentimentReply), model: Type.String(), count: Type.Integer() });
export const TokenPairReply = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer(),
});
export const UserReply = Type.Object({ id: Type.String(), username: Type.String(), role: Type.String(), created_at: Type.String() });
export const ErrorReply: TSchema = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});
