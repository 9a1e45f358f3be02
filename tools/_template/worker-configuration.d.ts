// The template's stand-in: `npm run new-tool` generates the new tool's real file with `npm run types`.
export interface ToolTemplateBindings {}
