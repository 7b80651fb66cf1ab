import { authConfig, gatewayConfig, listenConfig, requireAuthSecret } from '@logserver/shared/config/schemas';
import { z } from 'zod';

export const AuthConfig = requireAuthSecret(z.object({ ...listenConfig(8081), ...authConfig, ...gatewayConfig }));
export type AuthConfig = z.infer<typeof AuthConfig>;
