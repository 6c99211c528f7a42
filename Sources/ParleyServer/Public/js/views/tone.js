// Ring tones from WebAudio: a caller hears a ringback, a callee a ring.

let context = null;
let timer = null;

export function startTone(kind) {
  stopTone();
  try {
    context ??= new AudioContext();
    const beep = () => {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.frequency.value = kind === "ring" ? 880 : 440;
      gain.gain.value = 0.05;
      oscillator.connect(gain).connect(context.destination);
      oscillator.start();
      oscillator.stop(context.currentTime + (kind === "ring" ? 0.4 : 1.2));
    };
    beep();
    timer = setInterval(beep, kind === "ring" ? 1500 : 4000);
  } catch {
    // No audio output: the prompt on screen is enough.
  }
}

export function stopTone() {
  clearInterval(timer);
  timer = null;
}
