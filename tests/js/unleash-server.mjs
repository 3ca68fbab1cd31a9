// Starts a real Unleash for the integration tests (tests/it/support/unleash.rs). Everything
// comes from the environment so the harness picks the ports and the throwaway database:
//   UNLEASH_SERVER_DIR  where scripts/deps/unleash.sh installed the unleash-server package
//   UNLEASH_PORT        the loopback port to listen on
//   UNLEASH_DB_PORT, UNLEASH_DB_USER, UNLEASH_DB_NAME   the throwaway PostgreSQL
//   UNLEASH_ADMIN_TOKEN, UNLEASH_CLIENT_TOKEN           tokens created at start
//   WATCH_PARENT_PID    the test process; when it is gone, Unleash and PostgreSQL stop
//   WATCH_KILL_PID      PostgreSQL's pid, ended together with this process
//   WATCH_REMOVE_DIR    the harness's temporary folder, removed once both are down
// A test binary that shares one server through a static never runs Drop, so this file is
// what makes sure nothing outlives the tests.
import { pathToFileURL } from 'node:url';
import { rmSync } from 'node:fs';
import path from 'node:path';

const need = (name) => {
    const value = process.env[name];
    if (!value) {
        console.error(`unleash-server.mjs: ${name} is not set`);
        process.exit(2);
    }
    return value;
};

const entry = path.join(need('UNLEASH_SERVER_DIR'), 'node_modules', 'unleash-server', 'dist', 'lib', 'server-impl.js');
const { start } = await import(pathToFileURL(entry).href);

const parent = Number(process.env.WATCH_PARENT_PID || 0);
const postgres = Number(process.env.WATCH_KILL_PID || 0);
const folder = process.env.WATCH_REMOVE_DIR;
const alive = (pid) => {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
};
const stopAll = () => {
    if (postgres && alive(postgres)) {
        // SIGQUIT: PostgreSQL's immediate shutdown; the cluster is thrown away anyway.
        process.kill(postgres, 'SIGQUIT');
    }
    const started = Date.now();
    const finish = () => {
        if (postgres && alive(postgres) && Date.now() - started < 5000) {
            setTimeout(finish, 100);
            return;
        }
        if (folder) {
            rmSync(folder, { recursive: true, force: true });
        }
        process.exit(0);
    };
    finish();
};
if (parent) {
    setInterval(() => {
        try {
            process.kill(parent, 0);
        } catch {
            stopAll();
        }
    }, 500).unref();
}
process.on('SIGTERM', stopAll);
process.on('SIGINT', stopAll);

await start({
    db: {
        host: '127.0.0.1',
        port: Number(need('UNLEASH_DB_PORT')),
        user: need('UNLEASH_DB_USER'),
        password: 'unused',
        database: need('UNLEASH_DB_NAME'),
        ssl: false,
        pool: { min: 0, max: 4 },
    },
    server: { host: '127.0.0.1', port: Number(need('UNLEASH_PORT')) },
    authentication: {
        initApiTokens: [
            {
                environment: '*',
                projects: ['*'],
                secret: need('UNLEASH_ADMIN_TOKEN'),
                type: 'admin',
                tokenName: 'shipdeck-tests-admin',
            },
            {
                environment: 'development',
                projects: ['*'],
                secret: need('UNLEASH_CLIENT_TOKEN'),
                type: 'client',
                tokenName: 'shipdeck-tests-client',
            },
        ],
    },
    versionCheck: { enable: false },
    telemetry: false,
    logLevel: 'warn',
});
console.log('unleash-server.mjs: started');
