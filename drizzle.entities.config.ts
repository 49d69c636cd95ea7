import { defineConfig } from "drizzle-kit";

/** The application's schema (the test entities' own tables); the framework's is drizzle.config.ts. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/entities/schema.ts",
  out: "./src/entities/migrations",
});
