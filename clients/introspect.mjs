// What GraphiQL and schema tools do first: the standard introspection query from
// graphql-js, then a client-side schema built from the answer.
import { buildClientSchema, getIntrospectionQuery, printSchema } from "graphql";

const url = `${process.env.SCREEMA_URL}/graphql`;
const query = getIntrospectionQuery({
  descriptions: true,
  inputValueDeprecation: true,
  directiveIsRepeatable: true,
  specifiedByUrl: true,
});
const response = await fetch(url, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ query }),
});
const body = await response.json();
if (body.errors) {
  console.error(JSON.stringify(body.errors));
  process.exit(1);
}
const schema = buildClientSchema(body.data);
const sdl = printSchema(schema);
console.log(
  JSON.stringify({
    types: Object.keys(schema.getTypeMap()).length,
    hasSeatMap: sdl.includes("seatMap("),
  }),
);
