import { z } from 'zod';

/** What the SNS/SQS server's thread (messaging-thread.ts) answers its start with: its port, or why it did not start. */
export const MessagingThreadReplySchema = z.union([z.object({ port: z.number().int().min(1).max(65_535) }), z.object({ error: z.string() })]);
export type MessagingThreadReply = z.infer<typeof MessagingThreadReplySchema>;
