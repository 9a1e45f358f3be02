// Refuses bodies over the configured size before anything reads them; hono's bodyLimit counts the
// bytes as they stream, so a chunked body without Content-Length is cut off too.

import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { ApiError } from "../../errors.js";
import { whileReadingBody } from "../../http/request-body.js";
import type { AppEnv } from "../../types.js";

export const limitBody = createMiddleware<AppEnv>(async (c, next) => {
  const maxSize = c.get("config").limits.maxBodyBytes;
  const limit = bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError(413, `The request body is over the ${maxSize}-byte limit.`, { code: "request_too_large" });
    },
  });
  // A chunked body is read here, so a client that goes away mid-upload is noticed here; what the
  // routes after it throw is theirs.
  let reading = true;
  try {
    return await limit(c, () => {
      reading = false;
      return next();
    });
  } catch (error) {
    if (reading) return whileReadingBody(() => Promise.reject(error));
    throw error;
  }
});
