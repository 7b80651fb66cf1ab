import { authConfig, listenConfig, requireAuthSecret } from '@logserver/shared/config/schemas';
import { z } from 'zod';

export const AuthConfig = z.object({ ...listenConfig(8081), ...authConfig }).superRefine(requireAuthSecret);
export type AuthConfig = z.infer<typeof AuthConfig>;
