// Loaded with --import into a forked trainer: gives it Electron's utility-process view of its parent
// (process.parentPort: 'message' events carrying { data }, postMessage) over Node's IPC channel, and
// takes process.send away, so the trainer must talk the way it does inside the desktop app.
// Listeners go on `process` only when the trainer subscribes: under Node 20 a 'message' listener added
// from an --import module, this early, never hears the parent.
const send = process.send.bind(process);
process.parentPort = {
  on(event, listener) {
    if (event === 'message') {
      process.on('message', (data) => listener({ data }));
      // A utility process dies with the app; nothing else would end this one when the test's process goes.
      process.on('disconnect', () => process.exit(0));
    }
    return this;
  },
  postMessage: (message) => send(message),
};
process.send = undefined;
