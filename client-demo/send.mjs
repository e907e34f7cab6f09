#!/usr/bin/env node
// The admin side: insert one notification for a user with the official `mongodb` driver, as a
// real admin backend does. notify-gateway sees the insert on its change stream and emits it to
// every socket of that user.
//
//   node client-demo/send.mjs --user alice [--type T] [--title T] [--message M] [--data JSON]
//
// Environment (the same names and defaults as the gateway's):
//   MONGODB_URI               default mongodb://127.0.0.1:27017/?replicaSet=rs0
//   MONGODB_DB                default: the database in the URI path, else test
//   NOTIFICATIONS_COLLECTION  default notifications
//   NOTIFICATION_USER_FIELD   default userId
//
// Prints "inserted <_id> for <user> into <db>.<collection>" and exits 0; exits 1 with the
// driver's reason when the insert fails, 2 on bad arguments.

import { parseArgs } from "node:util";

import { MongoClient } from "mongodb";

const USAGE =
    "usage: node client-demo/send.mjs --user USER_ID [--type TYPE] [--title TITLE] " +
    "[--message TEXT] [--data JSON]";

function fail(code, message) {
    console.error(message);
    process.exit(code);
}

let args;
try {
    ({ values: args } = parseArgs({
        options: {
            user: { type: "string" },
            type: { type: "string", default: "demo" },
            title: { type: "string", default: "Hello from the admin backend" },
            message: { type: "string", default: "" },
            data: { type: "string" },
            help: { type: "boolean", short: "h" },
        },
    }));
} catch (err) {
    fail(2, `${err.message}\n${USAGE}`);
}
if (args.help) {
    console.log(USAGE);
    process.exit(0);
}
if (!args.user) fail(2, USAGE);

let data;
if (args.data !== undefined) {
    try {
        data = JSON.parse(args.data);
    } catch (err) {
        fail(2, `--data is not JSON: ${err.message}`);
    }
}

const uri = process.env.MONGODB_URI || "mongodb://127.0.0.1:27017/?replicaSet=rs0";
const userField = process.env.NOTIFICATION_USER_FIELD || "userId";
const collectionName = process.env.NOTIFICATIONS_COLLECTION || "notifications";
const now = new Date();
const doc = {
    [userField]: args.user,
    type: args.type,
    title: args.title,
    message: args.message || `Sent at ${now.toISOString()}`,
    ...(data === undefined ? {} : { data }),
    read: false,
    createdAt: now,
};

const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
try {
    // db() without a name is the database of the URI path, "test" when it has none.
    const db = client.db(process.env.MONGODB_DB || undefined);
    const { insertedId } = await db.collection(collectionName).insertOne(doc);
    console.log(`inserted ${insertedId.toHexString()} for ${args.user} into ${db.databaseName}.${collectionName}`);
} catch (err) {
    fail(1, `send: cannot insert into MongoDB at ${uri.replace(/\/\/[^@/]*@/, "//***@")}: ${err.message}`);
} finally {
    await client.close();
}
