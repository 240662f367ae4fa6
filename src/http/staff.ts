// The staff and provider audience: admin API, offers, and the sign-in console, where the control plane runs.
import type { Hono } from 'hono';
import { registerAdminRoutes } from './admin.js';
import { controlPlaneElsewhere } from './app.js';
import { registerConsoleRoutes } from './console.js';
import { installStaffGuards } from './guards.js';
import { registerOfferRoutes } from './offers.js';
import type { AppEnv, AppServices } from './services.js';

export function registerStaffRoutes(app: Hono<AppEnv>, services: AppServices): void {
  if (!services.admin) return controlPlaneElsewhere(app, services);
  installStaffGuards(app, services); // wrong-token limits, pending-offer caps, 422 for refused fields
  registerAdminRoutes(app, services, services.admin);
  registerOfferRoutes(app, services.admin, () => services.publicUrl);
  registerConsoleRoutes(app, services);
}
