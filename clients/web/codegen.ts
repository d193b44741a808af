// Typed documents from the server's schema (`schema.graphql`, printed from the Rust
// code) and the operations written in src/ with `graphql(...)`. `npm run build` runs
// this before `tsc --noEmit`: a schema change that removes or retypes a field an
// operation uses fails here (validation) or in the type check, never in a browser.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  // SCREEMA_SCHEMA: another schema to check the app against (what a server change would do).
  schema: process.env.SCREEMA_SCHEMA ?? "../../schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  errorsOnly: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: {
        // Fragment masking is Apollo 4's own business; the generated helper is not needed.
        fragmentMasking: false,
      },
      config: {
        // Scalars as they travel in JSON: amounts are decimal strings (never floats),
        // times RFC 3339 strings.
        scalars: {
          DateTime: "string",
          Date: "string",
          Decimal: "string",
          JSON: "unknown",
        },
        enumsAsTypes: true,
        useTypeImports: true,
        // Keep the bundle small: no unused enum/input type code for the whole schema.
        onlyOperationTypes: true,
        strictScalars: true,
        avoidOptionals: false,
        defaultScalarType: "unknown",
      },
    },
  },
  silent: false,
};

export default config;
