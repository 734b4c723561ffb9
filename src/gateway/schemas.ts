// Request body schemas: ajv validates every body against them before any logic runs, and the same objects
// describe the API in the OpenAPI document. Reply schemas are the wire contract's (src/contract/rest.ts).
import { Type } from '@sinclair/typebox';

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
export const CurrentPassword = Type.String({ minLength: 1, maxLength: 128, description: "The account's current password" });
export const ApiKeyBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64 }), current_password: CurrentPassword },
  { additionalProperties: false },
);
export const DeleteAccountBody = Type.Object({ current_password: CurrentPassword }, { additionalProperties: false });

/** A text must hold something besides whitespace. */
const text = (limits: Limits) => Type.String({ minLength: 1, maxLength: limits.maxTextLength, pattern: '\\S' });

export const sentimentBody = (limits: Limits) => Type.Object({ text: text(limits) }, { additionalProperties: false });
export const batchBody = (limits: Limits) =>
  Type.Object({ texts: Type.Array(text(limits), { minItems: 1, maxItems: limits.maxBatchTexts }) }, { additionalProperties: false });
