// The file mapping pages of one kind of owner (workspace, group or user): each owner's routes
// register this plugin with how to load the owner and check access, so the rules of who may
// see or change a group or user stay with groups/ and users/.
import fastifyMultipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../audit/audit-log.js';
import type { FileMapping } from '../db/schema.js';
import type { Permission, RefusalCheck } from '../security/permissions.js';
import { PAGE_STATUS } from '../http/problems.js';
import { mayViewOwner, viewerOf, viewOwnerNeeds } from '../security/view-access.js';
import { EmptyForm, MappingForm, MappingParams } from '../schemas/workspaces.js';
import { IdParams } from '../schemas/common.js';
import { fieldErrorsOf, type Problem } from '../security/result.js';
import { createMapping, deleteMapping, updateMapping } from './file-mappings-commands.js';
import { findMapping, type MappingOwner, type MappingSummary, type OwnerKind } from './file-mappings-queries.js';
import {
  CONTENT_LIMIT_LABEL,
  CONTENT_MAX_BYTES,
  FORM_MAX_BYTES,
  formatSize,
  formPartProblem,
  isText,
  lineEndingWarning,
  UploadedFile,
  validateMapping,
  type FormFields,
  type MappingFormBody,
} from './mapping-input.js';

export interface LoadedOwner extends MappingOwner {
  /** Groups: whether it is a system group (viewing its mappings then needs groups_view_system). */
  isSystem?: boolean;
  /** The owner's page; its File Mappings section is at #file-mappings. */
  url: string;
  /** "Workspaces", "Groups", "Users": the crumb before the owner. */
  listLabel: string;
  listUrl: string;
  /** A rule every change to this owner's mappings asks inside its transaction (a group's stronger members). */
  refuseChange?: RefusalCheck;
}

export interface MappingRoutesOptions {
  kind: OwnerKind;
  /** The owner's page path with its :id, such as /admin/workspaces/:id. */
  base: string;
  view: Permission | readonly Permission[];
  modify: Permission | readonly Permission[];
  /** The :id owner when the actor may see it (and change it, for 'modify'); otherwise answers (404/403) and gives null. */
  loadOwner(
    request: FastifyRequest<{ Params: { id: string } }>,
    reply: FastifyReply,
    need: 'view' | 'modify',
  ): Promise<LoadedOwner | null>;
}

/** The File Mappings section of an owner's page (views/file-mappings/_list.eta). */
export function mappingListView(owner: { url: string }, mappings: readonly MappingSummary[], canModify: boolean) {
  return {
    newUrl: `${owner.url}/file-mappings/new`,
    canModify,
    rows: mappings.map((m) => ({
      ...m,
      url: `${owner.url}/file-mappings/${m.id}`,
      sizeText: formatSize(m.size),
      mode: (m.writable ? 'writable' : 'read-only') + (m.executable ? ', executable' : ''),
    })),
  };
}

/** A refused save: the form again, the message beside its field (the Name unless it says). */
const formErrorsOf = (problem: Problem) =>
  problem.field || problem.fields ? fieldErrorsOf(problem) : { name: problem.message };

type Values = Required<Omit<MappingFormBody, 'file'>>;

const emptyValues: Values = {
  name: '',
  description: '',
  destination_path: '',
  content: '',
  writable: '',
  executable: '',
};

function valuesOf(mapping: FileMapping): Values {
  const text = mapping.fileName === '' && isText(mapping.content);
  return {
    name: mapping.name,
    description: mapping.description,
    destination_path: mapping.destinationPath,
    content: text ? mapping.content.toString('utf8') : '',
    writable: mapping.writable ? 'on' : '',
    executable: mapping.executable ? 'on' : '',
  };
}

function enteredValues(body: MappingFormBody): Values {
  const text = (name: keyof Values) => (typeof body[name] === 'string' ? body[name] : '');
  return {
    ...emptyValues,
    name: text('name'),
    description: text('description'),
    destination_path: text('destination_path'),
    content: text('content'),
    writable: body.writable === undefined ? '' : 'on',
    executable: body.executable === undefined ? '' : 'on',
  };
}

/** The fields a route's body schema names, with their longest text (a property without a maxLength takes a file). */
function formFieldsOf(schema: unknown): FormFields {
  const properties = (schema as { properties?: Record<string, { maxLength?: number }> } | undefined)?.properties ?? {};
  return new Map(Object.entries(properties).map(([name, property]) => [name, property.maxLength ?? null]));
}

const fileMappingRoutes: FastifyPluginAsyncTypebox<MappingRoutesOptions> = async (app, options) => {
  const { db } = app;
  const { base, loadOwner, view, modify } = options;

  // Uploads of these forms only. Nothing is buffered beyond what a legal form holds: the body's
  // declared length is checked before any of it is read, each part is checked as it arrives (an
  // unknown field ends the request there), and a file is kept up to the 5 MB limit only (the rest
  // of a larger one is discarded as it streams in, and the form says so).
  await app.register(fastifyMultipart, {
    throwFileSizeLimit: false,
    limits: { fileSize: CONTENT_MAX_BYTES, files: 1, fields: 20, parts: 21, fieldSize: CONTENT_MAX_BYTES + 1 },
  });

  const refuse = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode });

  app.addHook('onRequest', async (request) => {
    if (
      !String(request.headers['content-type'] ?? '')
        .toLowerCase()
        .startsWith('multipart/form-data')
    )
      return;
    const declared = request.headers['content-length'];
    // Browsers send a form's length; without one the cap could only be found by reading on.
    if (declared === undefined) throw refuse(411, 'Send the form with its Content-Length.');
    if (Number(declared) > FORM_MAX_BYTES) {
      throw refuse(
        413,
        `The form is larger than a file mapping can be: a file may be at most ${CONTENT_LIMIT_LABEL}. Nothing was stored. Go back and choose a smaller file.`,
      );
    }
  });

  app.addHook('preValidation', async (request) => {
    if (!request.isMultipart()) return;
    const fields = formFieldsOf(request.routeOptions.schema?.body);
    const body: Record<string, unknown> = {};
    const add = (name: string, value: unknown) => {
      const before = body[name];
      body[name] = before === undefined ? value : [before, value].flat(); // twice: the schema refuses it
    };
    try {
      for await (const part of request.parts()) {
        const problem = formPartProblem(
          fields,
          part.fieldname,
          part.type === 'file' ? { file: true } : { file: false, length: String(part.value).length },
        );
        if (problem) throw refuse(400, problem);
        if (part.type === 'field') add(part.fieldname, part.value);
        else {
          const chunks: Buffer[] = [];
          for await (const chunk of part.file) chunks.push(chunk as Buffer);
          add(part.fieldname, new UploadedFile(part.filename, Buffer.concat(chunks), part.file.truncated));
        }
      }
    } catch (error) {
      request.raw.unpipe(); // the parser reads no further; Node discards the rest of the body
      throw error;
    }
    request.body = body;
  });

  // A multipart body that breaks off or is malformed fails inside the parser with a plain
  // Error: it is the client's request that is bad, so it becomes a 400 for the app's handler.
  app.setErrorHandler((error: Error & { statusCode?: number }, request) => {
    if (error.statusCode === undefined && request.isMultipart()) {
      throw Object.assign(new Error('The upload was cut off or is not a valid form. Try again'), { statusCode: 400 });
    }
    throw error;
  });

  const notFound = (reply: FastifyReply) =>
    reply.code(404).render('errors/error', {
      title: 'File mapping not found',
      message: 'This file mapping does not exist (any more).',
    });

  function renderForm(
    reply: FastifyReply,
    owner: LoadedOwner,
    mapping: FileMapping | null,
    values: Values,
    errors: Record<string, string> = {},
    warning: string | null = null,
  ) {
    return reply.render('file-mappings/form', {
      owner,
      mapping: mapping && {
        ...mapping,
        sizeText: formatSize(mapping.size),
        isUpload: mapping.fileName !== '' || !isText(mapping.content),
      },
      action: mapping ? `${owner.url}/file-mappings/${mapping.id}` : `${owner.url}/file-mappings`,
      values,
      errors,
      warning: warning ?? (mapping ? lineEndingWarning(mapping.content, mapping.executable) : null),
      limit: CONTENT_LIMIT_LABEL,
    });
  }

  async function ownerAndMapping(
    request: FastifyRequest<{ Params: { id: string; mappingId: string } }>,
    reply: FastifyReply,
    need: 'view' | 'modify',
  ) {
    const owner = await loadOwner(request, reply, need);
    if (!owner) return null;
    // The same rule as plans and previews: whoever may not view the owner reads none of its files.
    if (!mayViewOwner(viewerOf(actorOf(request)), owner)) {
      await reply.forbidden(`You may not view the file mappings of ${owner.name}: it needs ${viewOwnerNeeds(owner)}.`);
      return null;
    }
    const mapping = await findMapping(db, owner, request.params.mappingId);
    if (!mapping) {
      await notFound(reply);
      return null;
    }
    return { owner, mapping };
  }

  app.get(
    `${base}/file-mappings/new`,
    { schema: { params: IdParams }, config: { permission: modify } },
    async (request, reply) => {
      const owner = await loadOwner(request, reply, 'modify');
      return owner ? renderForm(reply, owner, null, emptyValues) : reply;
    },
  );

  app.post(
    `${base}/file-mappings`,
    { schema: { params: IdParams, body: MappingForm }, config: { permission: modify } },
    async (request, reply) => {
      const owner = await loadOwner(request, reply, 'modify');
      if (!owner) return reply;
      const body = request.body as MappingFormBody;
      const validation = validateMapping(body, { hasContent: false, keepsText: false });
      if (!validation.ok || !validation.value.content)
        return renderForm(reply.code(422), owner, null, enteredValues(body), validation.ok ? {} : validation.errors);
      const result = await createMapping(
        db,
        actorOf(request),
        owner,
        { ...validation.value, content: validation.value.content },
        owner.refuseChange,
      );
      if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited by the check
      if (!result.ok)
        return renderForm(
          reply.code(PAGE_STATUS[result.problem.kind]),
          owner,
          null,
          enteredValues(body),
          formErrorsOf(result.problem),
        );
      const warning = lineEndingWarning(validation.value.content.bytes, validation.value.executable);
      request.session.flash = warning
        ? { type: 'warning', message: `File mapping ${result.value.name} added. ${warning}` }
        : { type: 'success', message: `File mapping ${result.value.name} added (${result.value.destinationPath}).` };
      return reply.redirect(`${owner.url}#file-mappings`, 303);
    },
  );

  app.get(
    `${base}/file-mappings/:mappingId`,
    { schema: { params: MappingParams }, config: { permission: view } },
    async (request, reply) => {
      const found = await ownerAndMapping(request, reply, 'view');
      return found ? renderForm(reply, found.owner, found.mapping, valuesOf(found.mapping)) : reply;
    },
  );

  app.post(
    `${base}/file-mappings/:mappingId`,
    { schema: { params: MappingParams, body: MappingForm }, config: { permission: modify } },
    async (request, reply) => {
      const found = await ownerAndMapping(request, reply, 'modify');
      if (!found) return reply;
      const { owner, mapping } = found;
      const body = request.body as MappingFormBody;
      // A text mapping's text box holds its content: emptying it empties the file. An uploaded
      // file's box starts empty, and stays the file unless text or a new file is given.
      const keepsText = mapping.fileName === '' && isText(mapping.content);
      const validation = validateMapping(body, { hasContent: true, keepsText });
      if (!validation.ok) return renderForm(reply.code(422), owner, mapping, enteredValues(body), validation.errors);
      const result = await updateMapping(db, actorOf(request), owner, mapping, validation.value, owner.refuseChange);
      if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited by the check
      if (!result.ok)
        return renderForm(
          reply.code(PAGE_STATUS[result.problem.kind]),
          owner,
          mapping,
          enteredValues(body),
          formErrorsOf(result.problem),
        );
      const bytes = validation.value.content?.bytes ?? mapping.content;
      const warning = lineEndingWarning(bytes, validation.value.executable);
      request.session.flash = warning
        ? { type: 'warning', message: `File mapping ${result.value.name} saved. ${warning}` }
        : { type: 'success', message: `File mapping ${result.value.name} saved.` };
      return reply.redirect(`${owner.url}#file-mappings`, 303);
    },
  );

  app.get(
    `${base}/file-mappings/:mappingId/download`,
    { schema: { params: MappingParams }, config: { permission: view } },
    async (request, reply) => {
      const found = await ownerAndMapping(request, reply, 'view');
      if (!found) return reply;
      const { mapping } = found;
      const fileName = (mapping.fileName || mapping.destinationPath.split('/').pop() || 'file').replace(
        /[^\w.-]/g,
        '_',
      );
      return reply
        .header('Content-Type', 'application/octet-stream')
        .header('Content-Disposition', `attachment; filename="${fileName}"`)
        .send(mapping.content);
    },
  );

  app.get(
    `${base}/file-mappings/:mappingId/delete`,
    { schema: { params: MappingParams }, config: { permission: modify } },
    async (request, reply) => {
      const found = await ownerAndMapping(request, reply, 'modify');
      return found ? reply.confirmDelete(deleteSubject(found.owner, found.mapping)) : reply;
    },
  );

  app.post(
    `${base}/file-mappings/:mappingId/delete`,
    { schema: { params: MappingParams, body: EmptyForm }, config: { permission: modify } },
    async (request, reply) => {
      const found = await ownerAndMapping(request, reply, 'modify');
      if (!found) return reply;
      const result = await deleteMapping(db, actorOf(request), found.owner, found.mapping, found.owner.refuseChange);
      if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited by the check
      request.session.flash = { type: 'success', message: `File mapping ${found.mapping.name} deleted.` };
      return reply.redirect(`${found.owner.url}#file-mappings`, 303);
    },
  );
};

function deleteSubject(owner: LoadedOwner, mapping: Pick<FileMapping, 'id' | 'name' | 'destinationPath'>) {
  return {
    kind: 'file mapping',
    name: mapping.name,
    listUrl: owner.url,
    listLabel: owner.name,
    itemUrl: `${owner.url}/file-mappings/${mapping.id}`,
    consequences: `Workspaces launched from now on no longer receive ${mapping.destinationPath} from ${owner.name}.`,
  };
}

export default fileMappingRoutes;
